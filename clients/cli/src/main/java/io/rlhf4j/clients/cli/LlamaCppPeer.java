package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.exporter.gguf.GgufExporter;
import io.rlhf4j.serving.bench.LoadGenerator;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench --suite serve --peer llama.cpp}: rlhf4j serve and llama.cpp side by side in one run on
 * the same weights (a Llama-shaped model of about GPT-2-small's size, random weights), the same
 * prompts, the same number of new tokens at temperature 0.8, at 1 and 8 concurrent streams. llama.cpp
 * runs through node-llama-cpp 3.21.1's prebuilt CPU build (the folder {@code .ci/run} installs,
 * {@code exporter/src/test/node}) on this project's own GGUF exports: f32 (our precision), q8_0, q4_0.
 */
final class LlamaCppPeer {

    static final Path NODE_DIR = Path.of("exporter", "src", "test", "node");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] STREAMS = {1, 8};

    private final PrintStream out;
    private final int newTokens;

    LlamaCppPeer(PrintStream out, int newTokens) {
        this.out = out;
        this.newTokens = newTokens;
    }

    /** The node-llama-cpp folder under the project, if it is installed. */
    static Path nodeDir() {
        String home = System.getProperty("rlhf4j.home", System.getenv("RLHF4J_HOME"));
        Path dir = (home == null ? Path.of("") : Path.of(home)).resolve(NODE_DIR);
        if (!Files.isDirectory(dir.resolve("node_modules/node-llama-cpp"))) {
            throw new IllegalStateException("llama.cpp peer: node-llama-cpp is not installed; run "
                    + "npm ci --omit=optional --ignore-scripts --prefix " + NODE_DIR);
        }
        return dir;
    }

    void run(Path work, List<String> prompts) throws Exception {
        Path node = nodeDir();
        ModelConfig shape = ModelConfig.llama(32_000, 768, 2048, 12, 12, 12, 1024);
        Path model = work.resolve("llama-124m");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(shape, m, 3)) {
            var tok = new ByteLevelBpeTrainer(300).train(prompts, work.resolve("peer-tok"));
            Checkpoint.write(model, shape.withSpecialTokens(tok.bosId(), tok.eosId()), d.toTensors(), tok, null);
        }
        out.printf(
                "== serve vs llama.cpp (node-llama-cpp 3.21.1, CPU, 2 threads): %,d-parameter Llama shape, random "
                        + "weights, %d new tokens per stream, temperature 0.8%n",
                shape.parameterCount(), newTokens);
        out.printf("  %-14s %-8s %18s %18s %14s%n", "engine", "weights", "1 stream tok/s", "8 streams tok/s", "8 / 1");
        double[] ours = new double[STREAMS.length];
        Path export = work.resolve("peer-onnx");
        new io.rlhf4j.exporter.Exporter(new PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new io.rlhf4j.exporter.Exporter.Options(model, export, false, true, 1e-4, 2, 1L << 30, false));
        try (io.rlhf4j.serving.ServingApp app = io.rlhf4j.serving.ServingApp.start(
                io.rlhf4j.serving.ServingApp.Config.defaults(work.resolve("peer-data"))
                        .withPort(0)
                        .withLimits(32, 1024))) {
            app.registerAndActivate(export);
            LoadGenerator load = new LoadGenerator(app.port());
            load.run(2, 4, prompts, 8); // warm-up
            for (int i = 0; i < STREAMS.length; i++) {
                ours[i] = load.run(STREAMS[i], 2 * STREAMS[i] + 2, prompts, newTokens)
                        .tokensPerSecond();
            }
        }
        row("rlhf4j serve", "fp32", ours);
        for (GgufExporter.Type type : List.of(GgufExporter.Type.f32, GgufExporter.Type.q8_0, GgufExporter.Type.q4_0)) {
            Path gguf = work.resolve("peer-" + type);
            new GgufExporter(new PrintStream(java.io.OutputStream.nullOutputStream())).export(model, gguf, type);
            double[] peer = new double[STREAMS.length];
            for (int i = 0; i < STREAMS.length; i++) {
                peer[i] = llamaCpp(node, gguf.resolve(GgufExporter.MODEL_FILE), STREAMS[i], prompts)
                        .get("tokens_per_second")
                        .asDouble();
            }
            row("llama.cpp", type.name(), peer);
        }
    }

    private void row(String engine, String weights, double[] tps) {
        out.printf(
                Locale.ROOT, "  %-14s %-8s %18.1f %18.1f %13.1fx%n", engine, weights, tps[0], tps[1], tps[1] / tps[0]);
    }

    private JsonNode llamaCpp(Path node, Path gguf, int streams, List<String> prompts)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(
                "node",
                "throughput.mjs",
                gguf.toAbsolutePath().toString(),
                String.valueOf(newTokens),
                String.valueOf(streams)));
        cmd.addAll(prompts);
        Process p = new ProcessBuilder(cmd)
                .directory(node.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("llama.cpp peer failed: " + said);
        }
        return JSON.readTree(said);
    }
}
