package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.WeightFormat;
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
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code bench --suite serve --peer llama.cpp}: rlhf4j serve and llama.cpp side by side in one run on
 * the same weights (a GPT-2-small-sized Llama or Qwen2.5-0.5B's shape, random weights), the same
 * prompts, the same number of new tokens at temperature 0.8, at 1 and 8 concurrent streams. llama.cpp
 * runs through node-llama-cpp 3.21.1's prebuilt CPU build (the folder {@code .ci/run} installs,
 * {@code exporter/src/test/node}) on this project's own GGUF exports: f32, q8_0, q4_0; rlhf4j serves its
 * fp32 graph and its int8 and int4 variants (MatMulNBits, the same block grid as q8_0 and q4_0), and
 * each row gives the ratio to llama.cpp at the same precision.
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

    void run(Path work, List<String> prompts, ModelConfig shape) throws Exception {
        Path node = nodeDir();
        Path model = work.resolve("model");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(shape, m, 3)) {
            var tok = new ByteLevelBpeTrainer(300).train(prompts, work.resolve("peer-tok"));
            Checkpoint.write(model, shape.withSpecialTokens(tok.bosId(), tok.eosId()), d.toTensors(), tok, null);
        }
        out.printf(
                "== serve vs llama.cpp (node-llama-cpp 3.21.1, CPU, 2 threads): %,d-parameter %s shape, random "
                        + "weights, %d new tokens per stream, temperature 0.8%n",
                shape.parameterCount(), shape.family().modelType(), newTokens);
        Path export = work.resolve("peer-onnx");
        new io.rlhf4j.exporter.Exporter(new PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new io.rlhf4j.exporter.Exporter.Options(model, export, false, true, 1e-4, 2, 1L << 30, false)
                        .withQuantize(io.rlhf4j.exporter.Exporter.Quantize.of(
                                List.of(WeightFormat.INT8, WeightFormat.INT4))));
        Map<WeightFormat, double[]> ours = new EnumMap<>(WeightFormat.class);
        for (WeightFormat w : WeightFormat.values()) {
            try (io.rlhf4j.serving.ServingApp app = io.rlhf4j.serving.ServingApp.start(
                    io.rlhf4j.serving.ServingApp.Config.defaults(work.resolve("peer-data-" + w))
                            .withPort(0)
                            .withLimits(32, 1024)
                            .withEngine(io.rlhf4j.serving.engine.EngineOptions.cpu(0)
                                    .withWeights(w)))) {
                app.registerAndActivate(export);
                LoadGenerator load = new LoadGenerator(app.port());
                load.run(2, 4, prompts, 8); // warm-up
                double[] tps = new double[STREAMS.length];
                for (int i = 0; i < STREAMS.length; i++) {
                    tps[i] = load.run(STREAMS[i], 2 * STREAMS[i] + 2, prompts, newTokens)
                            .tokensPerSecond();
                }
                ours.put(w, tps);
            }
        }
        Map<WeightFormat, double[]> peers = new EnumMap<>(WeightFormat.class);
        for (WeightFormat w : WeightFormat.values()) {
            Path gguf = work.resolve("peer-" + PEER_TYPE.get(w));
            new GgufExporter(new PrintStream(java.io.OutputStream.nullOutputStream()))
                    .export(model, gguf, PEER_TYPE.get(w));
            double[] peer = new double[STREAMS.length];
            for (int i = 0; i < STREAMS.length; i++) {
                peer[i] = llamaCpp(node, gguf.resolve(GgufExporter.MODEL_FILE), STREAMS[i], prompts)
                        .get("tokens_per_second")
                        .asDouble();
            }
            peers.put(w, peer);
        }
        out.printf(
                "  %-14s %-8s %16s %16s %8s %18s%n",
                "engine", "weights", "1 stream tok/s", "8 streams tok/s", "8 / 1", "vs llama.cpp 1 / 8");
        for (WeightFormat w : WeightFormat.values()) {
            row("rlhf4j serve", w.id(), ours.get(w), peers.get(w));
        }
        for (WeightFormat w : WeightFormat.values()) {
            row("llama.cpp", PEER_TYPE.get(w).name(), peers.get(w), peers.get(w));
        }
    }

    /** llama.cpp's type at each of our precisions: the same block grids (32 values, one scale each). */
    private static final Map<WeightFormat, GgufExporter.Type> PEER_TYPE = Map.of(
            WeightFormat.FP32, GgufExporter.Type.f32,
            WeightFormat.INT8, GgufExporter.Type.q8_0,
            WeightFormat.INT4, GgufExporter.Type.q4_0);

    private void row(String engine, String weights, double[] tps, double[] peer) {
        out.printf(
                Locale.ROOT,
                "  %-14s %-8s %16.1f %16.1f %7.1fx %8.2fx / %.2fx%n",
                engine,
                weights,
                tps[0],
                tps[1],
                tps[1] / tps[0],
                tps[0] / peer[0],
                tps[1] / peer[1]);
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
