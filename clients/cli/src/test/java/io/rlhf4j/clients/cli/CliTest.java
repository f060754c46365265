package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.trainer.model.Decoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a script sees it: exit codes, stdout, and one-line errors on stderr. */
class CliTest {

    @TempDir
    Path tmp;

    Path model;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Rlhf4j.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @BeforeEach
    void tinyModel() throws IOException {
        model = tmp.resolve("tiny");
        var tokenizer =
                new ByteLevelBpeTrainer(300).train(List.of("the cat sat on the mat", "a dog ran"), tmp.resolve("tok"));
        ModelConfig config =
                ModelConfig.llama(300, 32, 64, 2, 4, 2, 32).withSpecialTokens(tokenizer.bosId(), tokenizer.eosId());
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 1)) {
            Checkpoint.write(model, config, d.toTensors(), tokenizer, null);
        }
    }

    @Test
    void generatePrintsOnlyTheCompletion() {
        Run r = run(
                "generate",
                "--model",
                model.toString(),
                "--prompt",
                "the cat",
                "--max-tokens",
                "8",
                "--temperature",
                "0");
        assertThat(r.code()).isZero();
        assertThat(r.out()).endsWith(System.lineSeparator());
        assertThat(r.out().lines().count()).isLessThanOrEqualTo(8);
        Run again = run(
                "generate",
                "--model",
                model.toString(),
                "--prompt",
                "the cat",
                "--max-tokens",
                "8",
                "--temperature",
                "0");
        assertThat(again.out()).isEqualTo(r.out());
    }

    @Test
    void badInputFailsWithOneLineNamingTheCulprit() throws IOException {
        Run missing = run("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err().strip()).doesNotContain("\n").contains("nope");

        Run tooLong = run("generate", "--model", model.toString(), "--prompt", "the cat sat on the mat ".repeat(20));
        assertThat(tooLong.code()).isEqualTo(1);
        assertThat(tooLong.err().strip()).doesNotContain("\n").contains("context window is 32");

        Files.writeString(
                model.resolve("config.json"),
                Files.readString(model.resolve("config.json")).replace("\"llama\"", "\"rwkv\""));
        Run unknown = run("generate", "--model", model.toString());
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err().strip())
                .doesNotContain("\n")
                .contains("config.json")
                .contains("'rwkv'");

        Run peer = run("bench", "--suite", "serve", "--peer", "vllm");
        assertThat(peer.code()).isEqualTo(1);
        assertThat(peer.err().strip()).doesNotContain("\n").contains("--peer takes llama.cpp, not 'vllm'");
        Run shape = run("bench", "--suite", "serve", "--peer", "llama.cpp", "--peer-shapes", "gpt5");
        assertThat(shape.code()).isEqualTo(1);
        assertThat(shape.err().strip())
                .doesNotContain("\n")
                .contains("--peer-shapes takes gpt2-small and qwen2.5-0.5b");

        Run usage = run("import", "--format", "llama2c", "x.bin");
        assertThat(usage.code()).isEqualTo(2);
        assertThat(usage.err()).contains("--out");
    }

    @Test
    void aFailedImportLeavesNothingBehind() throws IOException {
        Path bin = tmp.resolve("broken.bin");
        Files.write(bin, new byte[100]);
        Path out = tmp.resolve("imported");
        Run r = run(
                "import",
                "--format",
                "llama2c",
                bin.toString(),
                "--tokenizer",
                bin.toString(),
                "--out",
                out.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").contains("broken.bin");
        assertThat(out).doesNotExist();
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".imported"));
        }
    }

    @Test
    void importedStories260KGeneratesTheKnownStory() {
        Optional<Path> dir = SharedData.file("models/stories260K");
        assumeThat(dir).as("shared data absent: skipped").isPresent();
        Path out = tmp.resolve("stories");
        Run imp = run(
                "import",
                "--format",
                "llama2c",
                dir.get().resolve("stories260K.bin").toString(),
                "--tokenizer",
                dir.get().resolve("tok512.bin").toString(),
                "--out",
                out.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        Run gen = run("generate", "--model", out.toString(), "--max-tokens", "200", "--temperature", "0");
        assertThat(gen.code()).as(gen.err()).isZero();
        assertThat(gen.out())
                .startsWith("Once upon a time, there was a little girl named Lily. She loved to play "
                        + "outside in the park.");
    }

    @Test
    void exportWritesCheckedGraphsAndRefusesWhatItCannotDo() throws IOException {
        Path out = tmp.resolve("onnx");
        Run ok = run("export", "--model", model.toString(), "--out", out.toString(), "--decode-steps", "3");
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(out.resolve("policy.onnx")).exists();
        assertThat(out.resolve("policy.opt.onnx")).exists();
        assertThat(Files.readString(out.resolve("manifest.json"))).contains("\"decode_steps\" : 3");

        Run trt = run(
                "export",
                "--model",
                model.toString(),
                "--out",
                tmp.resolve("trt").toString(),
                "--tensorrt");
        assertThat(trt.code()).isEqualTo(1);
        assertThat(trt.err().strip()).doesNotContain("\n").contains("TensorRT");
        assertThat(tmp.resolve("trt")).doesNotExist();

        Run reward = run(
                "export",
                "--model",
                model.toString(),
                "--out",
                tmp.resolve("rm").toString(),
                "--reward");
        assertThat(reward.code()).isEqualTo(1);
        assertThat(reward.err().strip()).doesNotContain("\n").contains("score.weight");

        Path quantized = tmp.resolve("int8");
        Run int8 = run(
                "export",
                "--model",
                model.toString(),
                "--out",
                quantized.toString(),
                "--quantize",
                "int8",
                "--no-optimize");
        assertThat(int8.code()).as(int8.err()).isZero();
        assertThat(quantized.resolve("policy.int8.onnx")).exists();
        assertThat(int8.err()).contains("quality policy.int8.onnx: perplexity");
        assertThat(Files.readString(quantized.resolve("manifest.json")))
                .contains("\"quantized\"", "\"perplexity_increase\"", "\"greedy_agreement\"");
        for (String[] args : List.of(
                new String[] {"--quantize", "int3"},
                new String[] {"--quantize", "int4", "--block", "24"},
                new String[] {"--quantize", "int8", "--format", "gguf"})) {
            List<String> argv = new java.util.ArrayList<>(List.of(
                    "export",
                    "--model",
                    model.toString(),
                    "--out",
                    tmp.resolve("bad-q").toString()));
            argv.addAll(List.of(args));
            Run bad = run(argv.toArray(String[]::new));
            assertThat(bad.code()).as(String.join(" ", args)).isEqualTo(1);
            assertThat(bad.err().strip())
                    .doesNotContain("\n")
                    .containsAnyOf("weights must be one of", "power of two", "--format onnx");
            assertThat(tmp.resolve("bad-q")).doesNotExist();
        }
    }

    /** Three copies of one demonstration for training, one for validation. */
    Path sftSnapshot() throws IOException {
        Path snap = Files.createDirectories(tmp.resolve("snap"));
        String row = "{\"prompt\":\"the cat\",\"demonstrations\":[{\"labeler\":\"l\",\"text\":\" sat\"}]}";
        Files.write(snap.resolve("sft.train.jsonl"), List.of(row, row, row));
        Files.write(snap.resolve("sft.validation.jsonl"), List.of(row));
        return snap;
    }

    @Test
    void trainingStagesTakeAConfigFileThatFlagsOverrideAndRefuseUnknownKeys() throws IOException {
        Path snap = sftSnapshot();
        Path config = tmp.resolve("sft.yaml");
        Files.writeString(config, "epochs: 1\nbatch_size: 3\nlrr: 0.1\n");
        Run bad = run(
                "train",
                "sft",
                "--snapshot",
                snap.toString(),
                "--model",
                model.toString(),
                "--out",
                tmp.resolve("bad").toString(),
                "--config",
                config.toString());
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err().strip()).doesNotContain("\n").contains("unknown key 'lrr'");

        Files.writeString(config, "epochs: 1\nbatch_size: 3\n");
        Path out = tmp.resolve("sft");
        Run ok = run(
                "train",
                "sft",
                "--snapshot",
                snap.toString(),
                "--model",
                model.toString(),
                "--out",
                out.toString(),
                "--config",
                config.toString(),
                "--batch-size",
                "2");
        assertThat(ok.code()).as(ok.err()).isZero();
        String manifest = Files.readString(out.resolve("training_manifest.json"));
        assertThat(manifest).contains("\"epochs\" : 1").contains("\"batch_size\" : 2");
    }

    @Test
    void dpoAndRlooTrainFromTheCommandLineAndRefuseBadSettingsInOneLine() throws IOException {
        Path snap = Files.createDirectories(tmp.resolve("snap"));
        String ranking = "{\"prompt\":\"the cat\",\"completions\":[\" sat\",\" ran\",\" mat\"],"
                + "\"rankings\":[{\"labeler\":\"l\",\"completions\":[0,1,2],\"ranks\":[0,1,2]}]}";
        Files.write(snap.resolve("rm.train.jsonl"), List.of(ranking, ranking, ranking, ranking));
        Files.write(snap.resolve("rm.validation.jsonl"), List.of(ranking));
        Files.write(snap.resolve("ppo.train.jsonl"), List.of("{\"prompt\":\"the cat\"}", "{\"prompt\":\"a dog\"}"));
        Files.write(snap.resolve("ppo.validation.jsonl"), List.of("{\"prompt\":\"a dog\"}"));
        Path config = tmp.resolve("dpo.yaml");
        Files.writeString(config, "epochs: 2\nbeta: 0.3\n");
        Path dpo = tmp.resolve("dpo");
        Run ok = run(
                "train",
                "dpo",
                "--snapshot",
                snap.toString(),
                "--sft",
                model.toString(),
                "--out",
                dpo.toString(),
                "--config",
                config.toString(),
                "--rankings-per-step",
                "2");
        assertThat(ok.code()).as(ok.err()).isZero();
        String manifest = Files.readString(dpo.resolve("training_manifest.json"));
        assertThat(manifest)
                .contains("\"kind\" : \"dpo\"")
                .contains("\"beta\" : 0.3")
                .contains("\"rankings_per_step\" : 2");
        assertThat(Files.readAllLines(dpo.resolve("metrics.jsonl"))).hasSize(5); // opening evaluation + 4 steps

        Path rm = tmp.resolve("rm");
        Run rmRun = run(
                "train",
                "rm",
                "--snapshot",
                snap.toString(),
                "--sft",
                model.toString(),
                "--out",
                rm.toString(),
                "--lora-rank",
                "2");
        assertThat(rmRun.code()).as(rmRun.err()).isZero();
        assertThat(rm.resolve("adapter_model.safetensors")).exists();
        Run one = run(
                "train",
                "rloo",
                "--snapshot",
                snap.toString(),
                "--sft",
                model.toString(),
                "--rm",
                rm.toString(),
                "--out",
                tmp.resolve("bad").toString(),
                "--k",
                "1");
        assertThat(one.code()).isEqualTo(1);
        assertThat(one.err().strip()).doesNotContain("\n").contains("k >= 2");
        assertThat(tmp.resolve("bad")).doesNotExist();
        Path rloo = tmp.resolve("rloo");
        Run rl = run(
                "train",
                "rloo",
                "--snapshot",
                snap.toString(),
                "--sft",
                model.toString(),
                "--rm",
                rm.toString(),
                "--out",
                rloo.toString(),
                "--iterations",
                "2",
                "--prompts-per-iteration",
                "2",
                "--k",
                "2",
                "--max-new-tokens",
                "3");
        assertThat(rl.code()).as(rl.err()).isZero();
        assertThat(Files.readString(rloo.resolve("training_manifest.json")))
                .contains("\"kind\" : \"rloo\"")
                .contains("reward_after");
        Run compare = run(
                "eval",
                "compare",
                "--snapshot",
                snap.toString(),
                "--model",
                model.toString(),
                "--out",
                tmp.resolve("cmp").toString(),
                "--policies",
                "ppo,grpo");
        assertThat(compare.code()).isEqualTo(1);
        assertThat(compare.err().strip()).doesNotContain("\n").contains("no policy stage called 'grpo'");
        assertThat(tmp.resolve("cmp")).doesNotExist();
    }

    @Test
    void sftTrainsALoraAdapterThatMergeFoldsBackAndBadLoraSettingsFailInOneLine() throws IOException {
        Path snap = sftSnapshot();
        Path out = tmp.resolve("lora");
        Run ok = run(
                "train",
                "sft",
                "--snapshot",
                snap.toString(),
                "--model",
                model.toString(),
                "--out",
                out.toString(),
                "--epochs",
                "1",
                "--lora-rank",
                "4",
                "--lora-targets",
                "q,v",
                "--base-precision",
                "fp16");
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(out.resolve("adapter_config.json")).exists();
        assertThat(Files.readString(out.resolve("training_manifest.json"))).contains("\"lora\"", "\"fp16\"");
        Path merged = tmp.resolve("merged");
        Run merge = run("merge", "--base", model.toString(), "--adapter", out.toString(), "--out", merged.toString());
        assertThat(merge.code()).as(merge.err()).isZero();
        assertThat(Checkpoint.readWeights(merged).keySet())
                .isEqualTo(Checkpoint.readWeights(model).keySet());

        for (String[] bad : List.of(
                new String[] {"--lora-rank", "-1"},
                new String[] {"--lora-rank", "4", "--lora-targets", "qkv"},
                new String[] {"--lora-rank", "4", "--base-precision", "bf16"},
                new String[] {"--base-precision", "fp16"})) {
            List<String> args = new ArrayList<>(List.of(
                    "train",
                    "sft",
                    "--snapshot",
                    snap.toString(),
                    "--model",
                    model.toString(),
                    "--out",
                    tmp.resolve("bad").toString()));
            args.addAll(List.of(bad));
            Run r = run(args.toArray(String[]::new));
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err().strip()).doesNotContain("\n");
        }
        assertThat(tmp.resolve("bad")).doesNotExist();
        Run other = run(
                "merge",
                "--base",
                merged.toString(),
                "--adapter",
                out.toString(),
                "--out",
                tmp.resolve("bad").toString());
        assertThat(other.code()).isEqualTo(1);
        assertThat(other.err()).contains("other base weights");
        assertThat(tmp.resolve("bad")).doesNotExist();
    }

    @Test
    void aDeviceThisBuildCannotReachIsRefusedInOneLineAndCpuTrains() throws IOException {
        Path snap = sftSnapshot();
        for (String device : List.of("cuda:7", "tpu")) {
            Run r = run(
                    "train",
                    "sft",
                    "--snapshot",
                    snap.toString(),
                    "--model",
                    model.toString(),
                    "--out",
                    tmp.resolve("bad").toString(),
                    "--device",
                    device);
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err().strip()).doesNotContain("\n").contains("--device");
        }
        assertThat(tmp.resolve("bad")).doesNotExist();
        Run cpu = run(
                "train",
                "sft",
                "--snapshot",
                snap.toString(),
                "--model",
                model.toString(),
                "--out",
                tmp.resolve("cpu").toString(),
                "--epochs",
                "1",
                "--device",
                "cpu");
        assertThat(cpu.code()).as(cpu.err()).isZero();
    }

    @Test
    void aRunThatCannotFitInMemoryIsRefusedWithItsEstimateBeforeAnythingIsLoaded() throws IOException {
        // The tiny model's files with a 50B-parameter shape: far past any machine's memory, and never read.
        Path huge = Files.createDirectories(tmp.resolve("huge"));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "model.safetensors")) {
            Files.copy(model.resolve(f), huge.resolve(f));
        }
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode)
                json.readTree(model.resolve("config.json").toFile());
        config.put("hidden_size", 8192)
                .put("intermediate_size", 28672)
                .put("num_hidden_layers", 64)
                .put("num_attention_heads", 64)
                .put("num_key_value_heads", 8)
                .put("head_dim", 128);
        json.writeValue(huge.resolve("config.json").toFile(), config);
        Path out = tmp.resolve("huge-sft");
        Run r = run(
                "train",
                "sft",
                "--snapshot",
                sftSnapshot().toString(),
                "--model",
                huge.toString(),
                "--out",
                out.toString());
        assertThat(r.code()).isEqualTo(1);
        List<String> lines = r.err().strip().lines().toList();
        assertThat(lines.get(lines.size() - 1))
                .startsWith("rlhf4j train sft: SFT memory estimate: weights ")
                .contains("--lora-rank");
        assertThat(out).doesNotExist();
    }

    @Test
    void adminCommandsPromoteAndRollBackOnARunningServerAndFailWithOneLine() throws Exception {
        Path export = tmp.resolve("export");
        assertThat(run("export", "--model", model.toString(), "--out", export.toString())
                        .code())
                .isZero();
        try (io.rlhf4j.serving.ServingApp app =
                io.rlhf4j.serving.ServingApp.start(io.rlhf4j.serving.ServingApp.Config.defaults(tmp.resolve("data"))
                        .withPort(0)
                        .withAdminToken("secret"))) {
            String first = app.registerAndActivate(export).version();
            String second = app.registry().register(export, first).version();
            String url = "http://127.0.0.1:" + app.port();

            Run versions = run("admin", "versions", "--server", url, "--admin-token", "secret");
            assertThat(versions.code()).as(versions.err()).isZero();
            assertThat(versions.out()).contains(first).contains(second).contains("active");
            Run promote = run("admin", "promote", second, "--server", url, "--admin-token", "secret");
            assertThat(promote.code()).as(promote.err()).isZero();
            assertThat(app.router().current().engine().version()).isEqualTo(second);
            Run back = run("admin", "rollback", "--server", url, "--admin-token", "secret");
            assertThat(back.code()).as(back.err()).isZero();
            assertThat(app.router().current().engine().version()).isEqualTo(first);

            Run missing = run("admin", "promote", "999", "--server", url, "--admin-token", "secret");
            assertThat(missing.code()).isEqualTo(1);
            assertThat(missing.err().strip().lines()).singleElement().asString().contains("999");
            Run wrongToken = run("admin", "versions", "--server", url, "--admin-token", "nope");
            assertThat(wrongToken.code()).isEqualTo(1);
            Run noTraining = run("admin", "train", "--no-wait", "--server", url, "--admin-token", "secret");
            assertThat(noTraining.code()).isEqualTo(1);
            assertThat(noTraining.err()).contains("not enabled");
        }
    }
}
