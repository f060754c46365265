package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.exporter.bench.ExportBenchmark;
import io.rlhf4j.trainer.bench.ModelBenchmark;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Print throughput figures for stories260K (from ../shared/data when present) and a "
                + "GPT-2-small-shaped model (random weights).",
                "trainer: training tokens/s (forward + backward + AdamW), DJL generation tokens/s at batch 1 and 8.",
                "export: export time; ONNX Runtime decode tokens/s (plain and optimised graph) next to DJL's."})
final class BenchCommand implements Callable<Integer> {

    enum Suite { trainer, export, all }

    @Option(names = "--suite", defaultValue = "all", description = "trainer, export or all (default ${DEFAULT-VALUE})")
    Suite suite;

    @Option(names = "--stories", paramLabel = "DIR", description = "directory with stories260K.bin and tok512.bin "
            + "(default: shared data)")
    Path stories;

    @Option(names = "--skip-gpt2", description = "only the small model")
    boolean skipGpt2;

    @Option(names = "--new-tokens", defaultValue = "64", description = "generated tokens per sequence (default ${DEFAULT-VALUE})")
    int newTokens;

    @Override
    public Integer call() throws Exception {
        System.out.printf("rlhf4j bench: %d CPU cores, PyTorch %s via DJL, ONNX Runtime %s%n",
                Runtime.getRuntime().availableProcessors(), ai.djl.engine.Engine.getEngine("PyTorch").getVersion(),
                io.rlhf4j.exporter.ort.Ort.env().getVersion());
        Path work = Files.createTempDirectory("rlhf4j-bench");
        try {
            Optional<Path> dir = Optional.ofNullable(stories).or(() -> SharedData.file("models/stories260K"));
            Path storiesCkpt = null;
            if (dir.isPresent()) {
                storiesCkpt = work.resolve("stories260K");
                Llama2cImporter.importModel(dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"),
                        storiesCkpt);
            } else {
                System.out.println("stories260K: skipped (no ../shared/data/models/stories260K; pass --stories DIR)");
            }
            Path gpt2Ckpt = null;
            if (!skipGpt2) {
                gpt2Ckpt = work.resolve("gpt2-small");
                ModelConfig gpt2 = ModelConfig.gpt2(50257, 768, 12, 12, 1024);
                Tokenizer tok = new ByteLevelBpeTrainer(300).train(List.of("random weights need no real tokenizer"),
                        work.resolve("tok"));
                try (NDManager m = NDManager.newBaseManager("PyTorch"); Decoder d = Decoder.initialise(gpt2, m, 1)) {
                    Checkpoint.write(gpt2Ckpt, gpt2, d.toTensors(), tok, null);
                }
            }
            if (suite != Suite.export) {
                trainer(storiesCkpt, gpt2Ckpt);
            }
            if (suite != Suite.trainer) {
                ExportBenchmark bench = new ExportBenchmark(System.out);
                System.out.println("== export: ONNX Runtime CPU vs the DJL trainer, greedy, 8-token prompts, "
                        + newTokens + " new tokens");
                if (storiesCkpt != null) {
                    bench.run("stories260K", storiesCkpt, work.resolve("stories-onnx"), newTokens);
                }
                if (gpt2Ckpt != null) {
                    bench.run("gpt2-small shape (random weights)", gpt2Ckpt, work.resolve("gpt2-onnx"), newTokens);
                }
            }
        } finally {
            AtomicDirectory.deleteRecursively(work);
        }
        return 0;
    }

    private void trainer(Path storiesCkpt, Path gpt2Ckpt) throws Exception {
        System.out.println("== trainer: DJL (PyTorch engine)");
        ModelBenchmark bench = new ModelBenchmark(System.out);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            if (storiesCkpt != null) {
                try (Decoder model = Decoder.load(storiesCkpt, manager)) {
                    bench.run("stories260K", model, Checkpoint.readTokenizer(storiesCkpt), 16, 256, 10, newTokens);
                }
            }
            if (gpt2Ckpt != null) {
                try (Decoder model = Decoder.load(gpt2Ckpt, manager)) {
                    bench.run("gpt2-small shape (random weights)", model, null, 4, 128, 3, newTokens);
                }
            }
        }
    }
}
