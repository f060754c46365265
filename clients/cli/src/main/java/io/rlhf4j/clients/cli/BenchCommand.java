package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.tokenizer.Llama2cTokenizer;
import io.rlhf4j.trainer.bench.ModelBenchmark;
import io.rlhf4j.trainer.importer.Llama2cCheckpoint;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Print trainer throughput: training tokens/s (forward + backward + AdamW) and KV-cache "
                + "generation tokens/s at batch 1 and 8,",
                "for stories260K (from ../shared/data when present) and a GPT-2-small-shaped model (random weights)."})
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--stories", paramLabel = "DIR", description = "directory with stories260K.bin and tok512.bin "
            + "(default: shared data)")
    Path stories;

    @Option(names = "--skip-gpt2", description = "only the small model")
    boolean skipGpt2;

    @Option(names = "--new-tokens", defaultValue = "64", description = "generated tokens per sequence (default ${DEFAULT-VALUE})")
    int newTokens;

    @Override
    public Integer call() throws Exception {
        System.out.printf("rlhf4j trainer bench: %d CPU cores, PyTorch %s via DJL%n",
                Runtime.getRuntime().availableProcessors(), ai.djl.engine.Engine.getEngine("PyTorch").getVersion());
        ModelBenchmark bench = new ModelBenchmark(System.out);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Optional<Path> dir = Optional.ofNullable(stories).or(() -> SharedData.file("models/stories260K"));
            if (dir.isPresent()) {
                Llama2cCheckpoint.Loaded loaded = Llama2cCheckpoint.read(dir.get().resolve("stories260K.bin"));
                Map<String, io.rlhf4j.core.checkpoint.Tensor> byName = new LinkedHashMap<>();
                loaded.tensors().forEach(t -> byName.put(t.name(), t));
                try (Decoder model = Decoder.fromTensors(loaded.config(), byName, manager, "stories260K")) {
                    bench.run("stories260K", model, Llama2cTokenizer.load(dir.get().resolve("tok512.bin")), 16, 256, 10,
                            newTokens);
                }
            } else {
                System.out.println("stories260K: skipped (no ../shared/data/models/stories260K; pass --stories DIR)");
            }
            if (!skipGpt2) {
                ModelConfig gpt2 = ModelConfig.gpt2(50257, 768, 12, 12, 1024);
                try (Decoder model = Decoder.initialise(gpt2, manager, 1)) {
                    bench.run("gpt2-small shape (random weights)", model, null, 4, 128, 3, newTokens);
                }
            }
        }
        return 0;
    }
}
