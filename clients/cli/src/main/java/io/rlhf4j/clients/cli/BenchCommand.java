package io.rlhf4j.clients.cli;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.exporter.bench.ExportBenchmark;
import io.rlhf4j.trainer.bench.FineTuneBenchmark;
import io.rlhf4j.trainer.bench.ModelBenchmark;
import io.rlhf4j.trainer.bench.PipelineBenchmark;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Print throughput figures for stories260K (from ../shared/data when present) and a "
                    + "GPT-2-small-shaped model (random weights).",
            "trainer: training tokens/s (forward + backward + AdamW), DJL generation tokens/s at batch 1 and 8.",
            "pipeline: SFT completion tokens/s, reward-model comparisons/s, and per PPO iteration rollout "
                    + "tokens/s and the share of time in generation vs updates (short real runs on a synthetic "
                    + "snapshot); then full fine-tuning against LoRA (--lora-rank) on an fp32 and an fp16 base for a GPT-2-small-sized Llama and "
                    + "Qwen2.5-0.5B's shape (random weights): each stage's memory estimate, peak resident memory, "
                    + "tokens/s and MFU against this machine's measured fp32 matmul rate.",
            "export: export time; ONNX Runtime decode tokens/s (plain and optimised graph) next to DJL's; and per "
                    + "--families family at Qwen2.5-0.5B's shape (random weights, --family-layers layers): import of "
                    + "a bf16 sharded HF checkpoint, ONNX and GGUF export times, ORT decode tokens/s at batch 1 and 8, "
                    + "and the resident memory of serving it.",
            "serve: the HTTP server under 1, 8 and 32 concurrent streaming clients: tokens/s, time to first token, "
                    + "latency (demo model and GPT-2-small shape); and, where the context fits, decode ms/token "
                    + "after the first at 1 stream for a " + ServeBench.SHORT_PROMPT + "-token vs a "
                    + ServeBench.LONG_PROMPT + "-token prompt, and time to first token with a shared "
                    + ServeBench.SYSTEM_PROMPT + "-token system prompt, prefix-cached vs not; with --peer "
                    + "llama.cpp, our fp32, int8 and int4 variants beside llama.cpp's f32, q8_0 and q4_0.",
            "reliability (not part of all): a server in its own process under --clients streaming clients for "
                    + "--minutes (errors, truncated streams, resident memory), kill -9 under load and a restart "
                    + "(acknowledged prompt logs missing), --promotions promotions and rollbacks under load, and "
                    + "--fuzz malformed requests; exits 1 if any row fails.",
            "cluster (not part of all): 1 to --replicas replicas of serve, each its own process, on one PostgreSQL "
                    + "(a scratch database created on the server at --db-url or RLHF4J_DB_URL, dropped after) and one "
                    + "model directory: aggregate tokens/s per replica count, promotion convergence p50/max over "
                    + "--promotions promotions and rollbacks, and a kill -9 of one replica under load; exits 1 if a "
                    + "row fails."
        })
final class BenchCommand implements Callable<Integer> {

    enum Suite {
        trainer,
        pipeline,
        export,
        serve,
        reliability,
        cluster,
        all
    }

    @Option(
            names = "--suite",
            defaultValue = "all",
            description = "trainer, pipeline, export, serve, reliability, cluster or all (all but reliability and "
                    + "cluster; default "
                    + "${DEFAULT-VALUE})")
    Suite suite;

    @Option(
            names = "--minutes",
            defaultValue = "1",
            description = "reliability: how long the soak runs (default ${DEFAULT-VALUE})")
    double minutes;

    @Option(
            names = "--clients",
            defaultValue = "64",
            description = "reliability: streaming clients in the soak (default ${DEFAULT-VALUE})")
    int clients;

    @Option(
            names = "--promotions",
            description = "reliability, cluster: promotions and rollbacks under load (default 50, cluster 20)")
    Integer promotions;

    @Option(
            names = "--replicas",
            defaultValue = "3",
            description = "cluster: the most replicas run together (default ${DEFAULT-VALUE})")
    int replicas;

    @Option(
            names = "--db-url",
            paramLabel = "URL",
            description = "cluster: a PostgreSQL server (jdbc:postgresql://HOST/DB) on which the bench may create "
                    + "and drop a scratch database; RLHF4J_DB_URL, with RLHF4J_DB_USER and RLHF4J_DB_PASSWORD")
    String dbUrl;

    @Option(
            names = "--fuzz",
            defaultValue = "10000",
            description = "reliability: malformed requests (default ${DEFAULT-VALUE})")
    int fuzz;

    @Option(
            names = "--stories",
            paramLabel = "DIR",
            description = "directory with stories260K.bin and tok512.bin " + "(default: shared data)")
    Path stories;

    @Option(
            names = "--families",
            split = ",",
            defaultValue = "llama,qwen2,qwen3",
            description = "export: the families of the per-family rows, or none (default ${DEFAULT-VALUE})")
    List<String> families;

    @Option(
            names = "--family-layers",
            defaultValue = "24",
            description = "export: layers of the per-family shape (Qwen2.5-0.5B has ${DEFAULT-VALUE})")
    int familyLayers;

    @Option(
            names = "--peer",
            paramLabel = "llama.cpp",
            description = "serve: also run llama.cpp (node-llama-cpp 3.21.1) on GGUF exports of the same weights, "
                    + "side by side with our quantized variants at 1 and 8 streams")
    String peer;

    @Option(
            names = "--peer-shapes",
            split = ",",
            defaultValue = "gpt2-small",
            description = "serve --peer: the shapes run beside llama.cpp, gpt2-small and/or qwen2.5-0.5b "
                    + "(default ${DEFAULT-VALUE})")
    List<String> peerShapes;

    /**
     * The benchmarks' model shapes: GPT-2-small's size in the Llama family (which LoRA adapts and
     * llama.cpp runs) and Qwen2.5-0.5B's, random weights.
     */
    static ModelConfig shape(String name, String option) {
        return switch (name) {
            case "gpt2-small" -> ModelConfig.llama(32_000, 768, 2048, 12, 12, 12, 1024);
            case "qwen2.5-0.5b" ->
                ModelConfig.rotary(
                        io.rlhf4j.core.config.ModelFamily.QWEN2, 151_936, 896, 4864, 24, 14, 2, 64, 32_768, true);
            default ->
                throw new IllegalArgumentException(
                        option + " takes gpt2-small and qwen2.5-0.5b (or none), not '" + name + "'");
        };
    }

    @Option(names = "--skip-gpt2", description = "only the small model")
    boolean skipGpt2;

    @Option(
            names = "--lora-rank",
            defaultValue = "16",
            description = "pipeline: the LoRA rank set against full fine-tuning (default ${DEFAULT-VALUE})")
    int loraRank;

    @Option(
            names = "--finetune-shapes",
            split = ",",
            defaultValue = "gpt2-small,qwen2.5-0.5b",
            description = "pipeline: the shapes of the full-vs-LoRA rows, or none (default ${DEFAULT-VALUE})")
    List<String> finetuneShapes;

    @Option(
            names = "--new-tokens",
            defaultValue = "64",
            description = "generated tokens per sequence (default ${DEFAULT-VALUE})")
    int newTokens;

    /** Qwen2.5-0.5B's shape in each asked family; Qwen3's q/k norms and Qwen2's biases come with the family. */
    private List<ModelConfig> familyShapes() {
        List<ModelConfig> shapes = new java.util.ArrayList<>();
        for (String name : families) {
            if (name.equals("none")) {
                return List.of();
            }
            io.rlhf4j.core.config.ModelFamily f = io.rlhf4j.core.config.ModelFamily.fromModelType(name)
                    .filter(io.rlhf4j.core.config.ModelFamily::rotary)
                    .orElseThrow(() -> new IllegalArgumentException(
                            "--families takes llama, mistral, qwen2 and qwen3 (or none), not '" + name + "'"));
            shapes.add(ModelConfig.rotary(f, 151_936, 896, 4864, familyLayers, 14, 2, 64, 32_768, true)
                    .withSpecialTokens(151_643, 151_645));
        }
        return shapes;
    }

    @Override
    public Integer call() throws Exception {
        System.out.printf(
                "rlhf4j bench: %d CPU cores, PyTorch %s via DJL, ONNX Runtime %s%n",
                Runtime.getRuntime().availableProcessors(),
                ai.djl.engine.Engine.getEngine("PyTorch").getVersion(),
                io.rlhf4j.exporter.ort.Ort.env().getVersion());
        Path work = Files.createTempDirectory("rlhf4j-bench");
        if (suite == Suite.cluster) {
            String url = dbUrl != null ? dbUrl : System.getenv(io.rlhf4j.core.store.StoreSettings.ENV_URL);
            if (url == null || !url.startsWith("jdbc:postgresql:") || replicas < 1) {
                throw new picocli.CommandLine.ParameterException(
                        new picocli.CommandLine(this),
                        "bench --suite cluster needs a PostgreSQL server, which replicas share: --db-url "
                                + "jdbc:postgresql://HOST/DB (or RLHF4J_DB_URL), and --replicas at least 1");
            }
            io.rlhf4j.core.store.StoreSettings server = new io.rlhf4j.core.store.StoreSettings(
                    work,
                    url,
                    System.getenv(io.rlhf4j.core.store.StoreSettings.ENV_USER),
                    System.getenv(io.rlhf4j.core.store.StoreSettings.ENV_PASSWORD));
            try {
                return new ClusterBench(System.out, work, server, replicas, promotions == null ? 20 : promotions, 8)
                                        .run()
                                == 0
                        ? 0
                        : 1;
            } finally {
                AtomicDirectory.deleteRecursively(work);
            }
        }
        if (promotions == null) {
            promotions = 50;
        }
        if (suite == Suite.reliability) {
            if (minutes <= 0 || clients < 1 || promotions < 0 || fuzz < 0) {
                throw new picocli.CommandLine.ParameterException(
                        new picocli.CommandLine(this),
                        "--minutes must be positive, --clients at least 1, --promotions and --fuzz not negative");
            }
            try {
                return new ReliabilityBench(System.out, work, minutes, clients, promotions, fuzz).run() == 0 ? 0 : 1;
            } finally {
                AtomicDirectory.deleteRecursively(work);
            }
        }
        if (peer != null && !peer.equals("llama.cpp")) {
            throw new IllegalArgumentException("--peer takes llama.cpp, not '" + peer + "'");
        }
        if (peer != null) {
            peerShapes.forEach(name -> shape(name, "--peer-shapes"));
            LlamaCppPeer.nodeDir(); // refuse before any long work when the peer is not installed
        }
        try {
            Optional<Path> dir = Optional.ofNullable(stories).or(() -> SharedData.file("models/stories260K"));
            Path storiesCkpt = null;
            if (dir.isPresent()) {
                storiesCkpt = work.resolve("stories260K");
                Llama2cImporter.importModel(
                        dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"), storiesCkpt);
            } else {
                System.out.println("stories260K: skipped (no ../shared/data/models/stories260K; pass --stories DIR)");
            }
            Path gpt2Ckpt = null;
            if (!skipGpt2) {
                gpt2Ckpt = work.resolve("gpt2-small");
                ModelConfig gpt2 = ModelConfig.gpt2(50257, 768, 12, 12, 1024);
                Tokenizer tok = new ByteLevelBpeTrainer(300)
                        .train(List.of("random weights need no real tokenizer"), work.resolve("tok"));
                try (NDManager m = NDManager.newBaseManager("PyTorch");
                        Decoder d = Decoder.initialise(gpt2, m, 1)) {
                    Checkpoint.write(gpt2Ckpt, gpt2, d.toTensors(), tok, null);
                }
            }
            if (suite == Suite.trainer || suite == Suite.all) {
                trainer(storiesCkpt, gpt2Ckpt);
            }
            if (suite == Suite.pipeline || suite == Suite.all) {
                pipeline(storiesCkpt, gpt2Ckpt, work);
                fineTuning(work);
            }
            if (suite == Suite.serve || suite == Suite.all) {
                System.out.println("== serve: rlhf4j serve over loopback, streaming clients, " + newTokens
                        + " new tokens per request");
                ServeBench serve = new ServeBench(System.out, newTokens);
                serve.run("demo base model", DemoModel.locate(), work.resolve("serve-demo"));
                if (gpt2Ckpt != null) {
                    serve.run("gpt2-small shape (random weights)", gpt2Ckpt, work.resolve("serve-gpt2"));
                }
                if (peer != null) {
                    for (String name : peerShapes) {
                        new LlamaCppPeer(System.out, newTokens)
                                .run(
                                        work.resolve("peer-" + name),
                                        ServeBench.SERVE_PROMPTS,
                                        shape(name, "--peer-shapes"));
                    }
                }
            }
            if (suite == Suite.export || suite == Suite.all) {
                ExportBenchmark bench = new ExportBenchmark(System.out);
                System.out.println("== export: ONNX Runtime CPU vs the DJL trainer, greedy, 8-token prompts, "
                        + newTokens + " new tokens");
                if (storiesCkpt != null) {
                    bench.run("stories260K", storiesCkpt, work.resolve("stories-onnx"), newTokens);
                }
                if (gpt2Ckpt != null) {
                    bench.run("gpt2-small shape (random weights)", gpt2Ckpt, work.resolve("gpt2-onnx"), newTokens);
                }
                List<ModelConfig> shapes = familyShapes();
                if (!shapes.isEmpty()) {
                    System.out.printf(
                            "== export by family: Qwen2.5-0.5B's shape (%d layers, 896 wide, 14/2 heads, 4864 MLP, "
                                    + "151,936 vocabulary, tied), random weights, %d new tokens%n",
                            familyLayers, newTokens);
                    bench.families(shapes, work.resolve("families"), newTokens);
                }
            }
        } finally {
            AtomicDirectory.deleteRecursively(work);
        }
        return 0;
    }

    private void pipeline(Path storiesCkpt, Path gpt2Ckpt, Path work) throws Exception {
        System.out.println("== pipeline: SFT, reward model and PPO through the trainers (DJL), synthetic snapshot");
        PipelineBenchmark bench = new PipelineBenchmark(System.out);
        if (storiesCkpt != null) {
            bench.run("stories260K", storiesCkpt, PipelineBenchmark.Sizes.small(), work.resolve("pipeline-stories"));
        }
        if (gpt2Ckpt != null) {
            bench.run(
                    "gpt2-small shape (random weights)",
                    gpt2Ckpt,
                    PipelineBenchmark.Sizes.tiny(),
                    work.resolve("pipeline-gpt2"));
        }
    }

    /** Full fine-tuning against LoRA on random-weight checkpoints of real models' shapes. */
    private void fineTuning(Path work) throws Exception {
        if (finetuneShapes.contains("none")) {
            return;
        }
        double sgemm = FineTuneBenchmark.sgemmFlops(2048);
        System.out.printf(
                "== pipeline, full vs LoRA r=%d: fp32 matmul (2048^2, best of 5) runs at %.1f GFLOP/s here: MFU's "
                        + "denominator%n",
                loraRank, sgemm / 1e9);
        FineTuneBenchmark bench = new FineTuneBenchmark(System.out, sgemm);
        io.rlhf4j.trainer.model.LoraConfig lora = io.rlhf4j.trainer.model.LoraConfig.of(loraRank, 2.0 * loraRank);
        for (String shape : finetuneShapes) {
            ModelConfig config = shape(shape, "--finetune-shapes");
            Path dir = work.resolve("finetune-" + shape);
            Tokenizer tok = new ByteLevelBpeTrainer(300)
                    .train(
                            List.of("once upon a time there was a little girl named lily"),
                            work.resolve("tok-" + shape));
            ModelConfig withTokens = config.withSpecialTokens(tok.bosId(), tok.eosId());
            try (NDManager m = NDManager.newBaseManager("PyTorch");
                    Decoder d = Decoder.initialise(withTokens, m, 1)) {
                Checkpoint.write(dir.resolve("base"), withTokens, d.toTensors(), tok, null);
            }
            bench.run(shape + " shape (random weights)", dir.resolve("base"), lora, dir.resolve("runs"));
            AtomicDirectory.deleteRecursively(dir);
        }
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
