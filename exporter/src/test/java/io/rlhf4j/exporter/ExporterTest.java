package io.rlhf4j.exporter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.exporter.ort.OrtPolicy;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ExporterTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    @TempDir
    Path tmp;

    static Stream<ModelConfig> families() {
        return Stream.of(
                ModelConfig.llama(300, 48, 96, 2, 4, 2, 64).withSpecialTokens(0, 1),
                // Llama 3.1's rope scaling, with an original context short enough that all three of its
                // frequency bands occur (head_dim 12: wavelengths from 6 to about 3,000 positions).
                ModelConfig.llama(300, 48, 96, 2, 4, 2, 64)
                        .withSpecialTokens(0, 1)
                        .withRopeScaling(new io.rlhf4j.core.config.RopeScaling("llama3", 8, 1, 4, 64)),
                ModelConfig.gpt2(300, 48, 2, 4, 64).withSpecialTokens(0, 1),
                // Qwen2.5's q/k/v biases with its tied embeddings; Qwen3's q/k norms with heads 16 wide
                // where hidden_size / heads is 12.
                rotary(io.rlhf4j.core.config.ModelFamily.QWEN2, 12, true),
                rotary(io.rlhf4j.core.config.ModelFamily.QWEN3, 16, false));
    }

    private static ModelConfig rotary(io.rlhf4j.core.config.ModelFamily family, int headDim, boolean tied) {
        return ModelConfig.rotary(family, 300, 48, 96, 2, 4, 2, headDim, 64, tied)
                .withSpecialTokens(0, 1);
    }

    private Path rewardCheckpoint(ModelConfig config, String name) throws IOException {
        return rewardCheckpoint(tmp, config, name);
    }

    /** A random model with a reward head, as a reward-model checkpoint stores it. */
    static Path rewardCheckpoint(Path tmp, ModelConfig config, String name) throws IOException {
        Path dir = tmp.resolve(name);
        Tokenizer tokenizer =
                new ByteLevelBpeTrainer(300).train(List.of("the cat sat on the mat"), tmp.resolve("tok-" + name));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 5)) {
            Random r = new Random(3);
            List<Tensor> tensors = new ArrayList<>();
            for (Tensor t : d.toTensors()) {
                // Initialised biases are zero and norms one: perturbed, parity also checks they are applied.
                if (t.name().endsWith(".bias") || t.name().contains("norm")) {
                    for (int i = 0; i < t.data().length; i++) {
                        t.data()[i] += (float) (0.1 * r.nextGaussian());
                    }
                }
                tensors.add(t);
            }
            float[] head = new float[config.hiddenSize()];
            for (int i = 0; i < head.length; i++) {
                head[i] = (float) r.nextGaussian();
            }
            tensors.add(new Tensor(RewardModel.HEAD_WEIGHT, new long[] {1, config.hiddenSize()}, head));
            tensors.add(new Tensor(RewardModel.HEAD_BIAS, new long[] {1}, new float[] {-0.25f}));
            Checkpoint.write(dir, config, tensors, tokenizer, null);
        }
        return dir;
    }

    @ParameterizedTest
    @MethodSource("families")
    void exportedGraphsMatchTheTrainerForPrefillTwentyDecodeStepsAndTheRewardHead(ModelConfig config)
            throws IOException {
        Path model = rewardCheckpoint(config, config.family().modelType());
        Path out = tmp.resolve("export-" + config.family().modelType());
        ObjectNode manifest =
                new Exporter(QUIET).export(Exporter.Options.defaults(model, out).withReward(true));

        for (String f : List.of(
                "policy.onnx",
                "policy.opt.onnx",
                "reward.onnx",
                "reward.opt.onnx",
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "manifest.json")) {
            assertThat(out.resolve(f)).exists();
        }
        JsonNode parity = manifest.get("parity");
        for (String g : List.of("policy.onnx", "policy.opt.onnx")) {
            assertThat(parity.get(g).get("prefill_max_abs_diff").asDouble()).isLessThan(1e-4);
            assertThat(parity.get(g).get("decode_max_abs_diff").asDouble()).isLessThan(1e-4);
            assertThat(parity.get(g).get("decode_steps").asInt()).isEqualTo(20);
        }
        assertThat(parity.get("reward.onnx").get("max_abs_diff").asDouble()).isLessThan(1e-4);
        assertThat(parity.get("reward.opt.onnx").get("max_abs_diff").asDouble()).isLessThan(1e-4);
        assertThat(manifest.get("opset").asInt()).isEqualTo(17);
        // A model without a chat template is served with the default it was exported with.
        assertThat(manifest.get("chat_template").asText()).isEqualTo("default");
        assertThat(io.rlhf4j.core.chat.ChatTemplate.load(out).isDefault()).isTrue();
        assertThat(out.resolve("chat_template.jinja")).exists();
        assertThat(manifest.get("source").get("weights_sha256").asText())
                .isEqualTo(io.rlhf4j.core.io.Checksums.sha256(model.resolve("model.safetensors")));
        assertThat(manifest.get("files").get("policy.onnx").get("sha256").asText())
                .isEqualTo(io.rlhf4j.core.io.Checksums.sha256(out.resolve("policy.onnx")));
        assertThat(ExportManifest.read(out)
                        .get("signature")
                        .get("policy")
                        .get("outputs")
                        .get("logits")
                        .asText())
                .isEqualTo("float32[batch, sequence - logits_from, 300]");
    }

    @Test
    void largeModelsKeepTheirWeightsInAnExternalDataFile() throws IOException {
        ModelConfig config = families().findFirst().orElseThrow();
        Path model = rewardCheckpoint(config, "big");
        Path out = tmp.resolve("external");
        Exporter.Options o = new Exporter.Options(model, out, false, false, 1e-4, 3, 1000, false);
        ObjectNode manifest = new Exporter(QUIET).export(o);
        assertThat(out.resolve("policy.onnx.data")).exists();
        assertThat(Files.size(out.resolve("policy.onnx"))).isLessThan(Files.size(out.resolve("policy.onnx.data")));
        assertThat(manifest.get("parity")
                        .get("policy.onnx")
                        .get("decode_max_abs_diff")
                        .asDouble())
                .isLessThan(1e-4);
    }

    @Test
    void aParityFailureRefusesTheExportAndLeavesNothing() throws IOException {
        ModelConfig config = families().findFirst().orElseThrow();
        Path model = rewardCheckpoint(config, "strict");
        Path out = tmp.resolve("refused");
        Exporter.Options o = new Exporter.Options(
                model,
                out,
                false,
                false,
                1e-12,
                3,
                io.rlhf4j.exporter.onnx.OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD,
                false);
        assertThatThrownBy(() -> new Exporter(QUIET).export(o))
                .isInstanceOf(Exporter.ParityException.class)
                .hasMessageContaining("policy.onnx")
                .hasMessageContaining("nothing was exported");
        assertThat(out).doesNotExist();
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".refused"));
        }
    }

    @Test
    void unsupportedFamiliesAndMissingRewardHeadsAreRefused() throws IOException {
        ModelConfig config = families().findFirst().orElseThrow();
        Path model = rewardCheckpoint(config, "odd");
        Path plain = tmp.resolve("plain");
        Files.createDirectories(plain);
        for (String f : List.of("config.json", "tokenizer.json")) {
            Files.copy(model.resolve(f), plain.resolve(f));
        }
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(model, m)) {
            io.rlhf4j.core.checkpoint.SafeTensors.write(
                    plain.resolve("model.safetensors"), d.toTensors(), java.util.Map.of());
        }
        assertThatThrownBy(() -> new Exporter(QUIET)
                        .export(Exporter.Options.defaults(plain, tmp.resolve("o1"))
                                .withReward(true)))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("score.weight");

        Files.writeString(
                model.resolve("config.json"),
                Files.readString(model.resolve("config.json")).replace("\"llama\"", "\"mamba\""));
        assertThatThrownBy(() -> new Exporter(QUIET).export(Exporter.Options.defaults(model, tmp.resolve("o2"))))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("unsupported model_type 'mamba'");
        assertThat(tmp.resolve("o1")).doesNotExist();
        assertThat(tmp.resolve("o2")).doesNotExist();
    }

    /** ONNX's own checker (Debian's python3-onnx, installed by .ci/run) accepts the plain graphs. */
    @Test
    void graphsPassOnnxsChecker() throws Exception {
        Path python = Path.of("/usr/bin/python3");
        assumeThat(Files.isExecutable(python))
                .as("/usr/bin/python3 absent: skipped")
                .isTrue();
        Process probe = new ProcessBuilder(python.toString(), "-c", "import onnx")
                .redirectErrorStream(true)
                .start();
        assumeThat(probe.waitFor()).as("python3-onnx not installed: skipped").isZero();
        for (ModelConfig config : families().toList()) {
            Path model = rewardCheckpoint(config, "checked-" + config.family().modelType());
            Path out = tmp.resolve("checked-out-" + config.family().modelType());
            new Exporter(QUIET)
                    .export(new Exporter.Options(
                            model,
                            out,
                            true,
                            false,
                            1e-4,
                            2,
                            io.rlhf4j.exporter.onnx.OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD,
                            false));
            for (String f : List.of("policy.onnx", "reward.onnx")) {
                Process p = new ProcessBuilder(
                                python.toString(),
                                "-c",
                                "import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); "
                                        + "print(m.opset_import[0].version, m.ir_version)",
                                out.resolve(f).toString())
                        .redirectErrorStream(true)
                        .start();
                String said = new String(p.getInputStream().readAllBytes());
                assertThat(p.waitFor()).as(f + ": " + said).isZero();
                assertThat(said.strip()).isEqualTo("17 8");
            }
        }
    }

    @Test
    void stories260KThroughOnnxRuntimeTellsTheSameStoryAsTheTrainer() throws Exception {
        Optional<Path> dir = SharedData.file("models/stories260K");
        assumeThat(dir).as("shared data absent: skipped").isPresent();
        Path model = tmp.resolve("stories");
        Llama2cImporter.importModel(
                dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"), model);
        Path out = tmp.resolve("stories-export");
        new Exporter(QUIET).export(Exporter.Options.defaults(model, out));
        Tokenizer tokenizer = Checkpoint.readTokenizer(out);
        ModelConfig config = Checkpoint.readConfig(out);
        String trainer;
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(model, m)) {
            trainer = new Generator(d, tokenizer)
                    .generate("", SamplingParams.greedy(200))
                    .text();
        }
        for (String graph : List.of("policy.onnx", "policy.opt.onnx")) {
            long[] story;
            try (OrtPolicy ort = new OrtPolicy(out.resolve(graph), config, OptLevel.NO_OPT, 0)) {
                story = ort.continuation(
                        new long[] {config.bosTokenId()},
                        200,
                        io.rlhf4j.core.sampling.Sampler::argmax,
                        config.eosTokenId());
            }
            int[] all = new int[story.length + 1];
            all[0] = config.bosTokenId();
            for (int i = 0; i < story.length; i++) {
                all[i + 1] = (int) story[i];
            }
            String text = tokenizer.decode(all);
            assertThat(text)
                    .as(graph)
                    .isEqualTo(trainer)
                    .startsWith("Once upon a time, there was a little girl named Lily.");
        }
    }
}
