package io.rlhf4j.exporter.bench;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.exporter.gguf.GgufExporter;
import io.rlhf4j.exporter.ort.OrtPolicy;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.importer.HfImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Export time and greedy decode throughput of the exported graphs under ONNX Runtime (plain and
 * offline-optimised), next to the trainer's DJL generation on the same prompts in the same run.
 * Each figure is the median of five timed rounds after a warm-up.
 */
public final class ExportBenchmark {

    /** Timed rounds per figure; the median is printed, so one noisy round on a shared machine does not decide. */
    private static final int ROUNDS = 5;

    private final PrintStream out;

    public ExportBenchmark(PrintStream out) {
        this.out = out;
    }

    public void run(String name, Path checkpoint, Path work, int newTokens) throws IOException, OrtException {
        ModelConfig config = Checkpoint.readConfig(checkpoint);
        out.printf("%s: %,d parameters%n", name, config.parameterCount());
        long t0 = System.nanoTime();
        new Exporter(new PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(Exporter.Options.defaults(checkpoint, work));
        out.printf("  export (graph, ORT optimisation, parity): %.1f s%n", (System.nanoTime() - t0) / 1e9);
        for (int batch : new int[] {1, 8}) {
            List<int[]> prompts = prompts(config, batch);
            double plain = ort(work.resolve(Exporter.POLICY), config, prompts, newTokens, OptLevel.NO_OPT);
            double opt = ort(work.resolve(Exporter.POLICY_OPTIMIZED), config, prompts, newTokens, OptLevel.NO_OPT);
            double djl = djl(checkpoint, prompts, newTokens);
            out.printf(
                    "  decode batch %d: ORT plain %8.1f tok/s | ORT optimised %8.1f tok/s | DJL trainer %8.1f tok/s%n",
                    batch, plain, opt, djl);
        }
    }

    /**
     * One row per family at one real shape with random weights: the HF checkpoint as a team would bring
     * it (bf16, HF's 2 GiB shards), then import, ONNX export (graph, ORT optimisation, parity), GGUF
     * q8_0 export, ORT decode tokens/s of the optimised graph at batch 1 and 8, and the resident memory
     * serving's ORT session adds once loaded and warmed.
     */
    public void families(List<ModelConfig> shapes, Path work, int newTokens) throws IOException, OrtException {
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        out.printf(
                "  %-8s %14s %9s %11s %10s %13s %13s %13s%n",
                "family",
                "parameters",
                "import s",
                "ONNX exp s",
                "GGUF q8 s",
                "ORT b1 tok/s",
                "ORT b8 tok/s",
                "serve RSS MiB");
        for (ModelConfig c : shapes) {
            Path hf = work.resolve(c.family().modelType() + "-hf");
            try (NDManager m = NDManager.newBaseManager("PyTorch");
                    Decoder d = Decoder.initialise(c, m, 11)) {
                Checkpoint.write(
                        hf,
                        c,
                        d.toTensors(),
                        new ByteLevelBpeTrainer(300).train(List.of("random weights"), work.resolve("tok")),
                        null,
                        new Checkpoint.Storage(SafeTensors.Dtype.BF16, Checkpoint.DEFAULT_MAX_SHARD_BYTES));
            }
            Path model = work.resolve(c.family().modelType());
            long t0 = System.nanoTime();
            HfImporter.importDir(hf, model);
            double importS = (System.nanoTime() - t0) / 1e9;
            AtomicDirectory.deleteRecursively(hf);
            Path onnx = work.resolve(c.family().modelType() + "-onnx");
            Path gguf = work.resolve(c.family().modelType() + "-gguf");
            t0 = System.nanoTime();
            new Exporter(quiet).export(Exporter.Options.defaults(model, onnx));
            double exportS = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            new GgufExporter(quiet).export(model, gguf, GgufExporter.Type.q8_0);
            double ggufS = (System.nanoTime() - t0) / 1e9;
            Path graph = onnx.resolve(Exporter.POLICY_OPTIMIZED);
            double rss = servingRssMiB(graph);
            double b1 = ort(graph, c, prompts(c, 1), newTokens, OptLevel.NO_OPT);
            double b8 = ort(graph, c, prompts(c, 8), newTokens, OptLevel.NO_OPT);
            out.printf(
                    java.util.Locale.ROOT,
                    "  %-8s %,14d %9.1f %11.1f %10.1f %13.1f %13.1f %13.0f%n",
                    c.family().modelType(),
                    c.parameterCount(),
                    importS,
                    exportS,
                    ggufS,
                    b1,
                    b8,
                    rss);
            for (Path dir : List.of(model, onnx, gguf)) {
                AtomicDirectory.deleteRecursively(dir);
            }
        }
    }

    /**
     * The resident set of a fresh JVM holding a loaded, warmed ORT session of {@code graph}, as
     * serving holds it: measured in this process it would hide behind memory the export freed.
     */
    private static double servingRssMiB(Path graph) throws IOException {
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        ServingMemoryProbe.class.getName(),
                        graph.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String said = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        try {
            if (p.waitFor() != 0) {
                throw new IOException("the serving-memory probe failed: " + said);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        return Long.parseLong(said) / (double) (1 << 20);
    }

    private static List<int[]> prompts(ModelConfig config, int batch) {
        SplittableRandom rng = new SplittableRandom(7);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] p = new int[8];
            for (int j = 0; j < p.length; j++) {
                p[j] = 3 + rng.nextInt(config.vocabSize() - 3);
            }
            prompts.add(p);
        }
        return prompts;
    }

    /** Greedy decoding through ONNX Runtime with the KV cache; tokens/s over the decode steps. */
    private static double ort(Path graph, ModelConfig config, List<int[]> prompts, int newTokens, OptLevel level)
            throws OrtException {
        int batch = prompts.size();
        int len = prompts.get(0).length;
        int vocab = config.vocabSize();
        try (OrtPolicy ort = new OrtPolicy(graph, config, level, 0)) {
            double[] rounds = new double[ROUNDS + 1];
            for (int round = 0; round <= ROUNDS; round++) { // round 0 warms up
                try (OrtPolicy.Cache cache = ort.newCache(batch)) {
                    long[] ids = new long[batch * len];
                    long[] pos = new long[batch * len];
                    for (int r = 0; r < batch; r++) {
                        for (int j = 0; j < len; j++) {
                            ids[r * len + j] = prompts.get(r)[j];
                            pos[r * len + j] = j;
                        }
                    }
                    long[] mask = new long[batch * len];
                    Arrays.fill(mask, 1);
                    long start = System.nanoTime();
                    float[] logits = ort.forward(ids, pos, mask, batch, len, cache);
                    int stride = len;
                    for (int step = 0; step < newTokens; step++) {
                        long[] next = new long[batch];
                        long[] nextPos = new long[batch];
                        for (int r = 0; r < batch; r++) {
                            int off = ((r + 1) * stride - 1) * vocab;
                            int arg = 0;
                            for (int v = 1; v < vocab; v++) {
                                arg = logits[off + v] > logits[off + arg] ? v : arg;
                            }
                            next[r] = arg;
                            nextPos[r] = len + step;
                        }
                        mask = new long[batch * (len + step + 1)];
                        Arrays.fill(mask, 1);
                        logits = ort.forward(next, nextPos, mask, batch, 1, cache);
                        stride = 1;
                    }
                    rounds[round] = batch * newTokens / ((System.nanoTime() - start) / 1e9);
                }
            }
            return median(java.util.Arrays.copyOfRange(rounds, 1, rounds.length));
        }
    }

    private static double djl(Path checkpoint, List<int[]> prompts, int newTokens) throws IOException {
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(checkpoint, m)) {
            Generator g = new Generator(d, null);
            SamplingParams p = SamplingParams.greedy(newTokens).withIgnoreEos(true);
            g.generate(prompts, SamplingParams.greedy(4).withIgnoreEos(true));
            double[] rounds = new double[ROUNDS];
            for (int round = 0; round < ROUNDS; round++) {
                long start = System.nanoTime();
                int n = g.generate(prompts, p).stream()
                        .mapToInt(x -> x.tokens().length)
                        .sum();
                rounds[round] = n / ((System.nanoTime() - start) / 1e9);
            }
            return median(rounds);
        }
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
