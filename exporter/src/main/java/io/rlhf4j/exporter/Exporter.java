package io.rlhf4j.exporter;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.exporter.onnx.DecoderGraph;
import io.rlhf4j.exporter.onnx.OnnxFiles;
import io.rlhf4j.exporter.onnx.Quantization;
import io.rlhf4j.exporter.onnx.proto.Onnx.ModelProto;
import io.rlhf4j.exporter.tensorrt.EngineBuilder;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Turns a checkpoint into the engines serving runs: {@code policy.onnx}, its ONNX Runtime-optimised
 * form {@code policy.opt.onnx}, {@code reward.onnx} for reward models, beside a copy of the
 * checkpoint and a {@code manifest.json}. Each graph must match the trainer's DJL model within the
 * tolerance (prefill and KV-cache decode steps) or nothing is written: the output directory appears
 * complete or not at all.
 */
public final class Exporter {

    public static final String POLICY = Layout.POLICY;
    public static final String POLICY_OPTIMIZED = Layout.POLICY_OPTIMIZED;
    public static final String REWARD = Layout.REWARD;
    public static final String REWARD_OPTIMIZED = Layout.REWARD_OPTIMIZED;
    public static final String POLICY_TENSORRT = "policy.fp16.engine";

    private static final List<String> CHECKPOINT_FILES = List.of(
            ModelConfig.FILE_NAME,
            "tokenizer.json",
            "tokenizer_config.json",
            ChatTemplate.TEMPLATE_FILE,
            "tokenizer.bin",
            Checkpoint.GENERATION_CONFIG);

    /** What to export and how strictly to check it. */
    public record Options(
            Path model,
            Path out,
            boolean reward,
            boolean optimize,
            double tolerance,
            int decodeSteps,
            long externalDataThreshold,
            boolean tensorrt,
            Quantize quantize) {
        public Options {
            quantize = quantize == null ? Quantize.NONE : quantize;
            if (!(tolerance >= 0)) {
                throw new IllegalArgumentException("tolerance must be >= 0, got " + tolerance);
            }
            if (decodeSteps < 0) {
                throw new IllegalArgumentException("decode steps must be >= 0, got " + decodeSteps);
            }
        }

        public Options(
                Path model,
                Path out,
                boolean reward,
                boolean optimize,
                double tolerance,
                int decodeSteps,
                long externalDataThreshold,
                boolean tensorrt) {
            this(model, out, reward, optimize, tolerance, decodeSteps, externalDataThreshold, tensorrt, Quantize.NONE);
        }

        public static Options defaults(Path model, Path out) {
            return new Options(model, out, false, true, 1e-4, 20, OnnxFiles.DEFAULT_EXTERNAL_THRESHOLD, false);
        }

        public Options withReward(boolean r) {
            return new Options(
                    model, out, r, optimize, tolerance, decodeSteps, externalDataThreshold, tensorrt, quantize);
        }

        public Options withQuantize(Quantize q) {
            return new Options(
                    model, out, reward, optimize, tolerance, decodeSteps, externalDataThreshold, tensorrt, q);
        }
    }

    /**
     * Quantized policy variants to write beside the fp32 graph, and the quality gate each must pass:
     * its perplexity over {@code text} (or the fp32 graph's own samples when null) may rise by at most
     * {@code maxPerplexityIncrease}, a fraction of the fp32 graph's.
     */
    public record Quantize(
            List<WeightFormat> formats,
            int block,
            int accuracyLevel,
            boolean unembedding,
            double maxPerplexityIncrease,
            Path text) {
        public static final int DEFAULT_BLOCK = 32;
        public static final int DEFAULT_ACCURACY_LEVEL = 4;
        public static final double DEFAULT_MAX_PERPLEXITY_INCREASE = 0.10;

        public static final Quantize NONE = of(List.of());

        /** {@code formats} with the defaults: 32-blocks, int8 arithmetic, the unembedding too, at most +10%. */
        public static Quantize of(List<WeightFormat> formats) {
            return new Quantize(
                    formats, DEFAULT_BLOCK, DEFAULT_ACCURACY_LEVEL, true, DEFAULT_MAX_PERPLEXITY_INCREASE, null);
        }

        /** The defaults, for the one variant a server serves (none for fp32). */
        public static Quantize serving(WeightFormat weights) {
            return of(weights.quantized() ? List.of(weights) : List.of());
        }

        public Quantize {
            formats = List.copyOf(formats);
            if (formats.contains(WeightFormat.FP32)) {
                throw new IllegalArgumentException("--quantize takes int8 and int4; fp32 is always exported");
            }
            if (!(maxPerplexityIncrease >= 0)) {
                throw new IllegalArgumentException(
                        "the largest perplexity increase must be >= 0, got " + maxPerplexityIncrease);
            }
            if (text != null && !Files.isRegularFile(text)) {
                throw new IllegalArgumentException("quality text " + text + " is not a file");
            }
            for (WeightFormat f : formats) {
                new Quantization(f, block, accuracyLevel, unembedding); // fails on a bad block or level now
            }
        }

        public Quantization quantization(WeightFormat f) {
            return new Quantization(f, block, accuracyLevel, unembedding);
        }
    }

    /** A graph that does not compute what the trainer computes. */
    public static final class ParityException extends IllegalStateException {
        public ParityException(String message) {
            super(message);
        }
    }

    private final PrintStream log;

    public Exporter(PrintStream log) {
        this.log = log;
    }

    /**
     * An export directory for {@code dir}: itself if it already is one, else a fresh parity-checked
     * export in a temporary directory that is removed when the JVM exits (serving copies what it
     * registers into its registry).
     */
    public Path exportedForServing(Path dir) throws IOException {
        return exportedForServing(dir, WeightFormat.FP32);
    }

    /** As {@link #exportedForServing(Path)}, a fresh export carrying the {@code weights} variant too. */
    public Path exportedForServing(Path dir, WeightFormat weights) throws IOException {
        if (Files.exists(dir.resolve(Layout.POLICY))) {
            return dir;
        }
        ModelConfig.read(dir);
        Path tmp = Files.createTempDirectory("rlhf4j-export");
        Path out = tmp.resolve("export");
        export(Options.defaults(dir, out).withQuantize(Quantize.serving(weights)));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                AtomicDirectory.deleteRecursively(tmp);
            } catch (IOException ignored) {
                // a temporary directory; the OS cleans up what is left
            }
        }));
        return out;
    }

    /** Exports and returns the manifest written. */
    public ObjectNode export(Options o) throws IOException {
        long started = System.nanoTime();
        ModelConfig config = Checkpoint.readConfig(o.model());
        Map<String, Tensor> tensors = Checkpoint.readWeights(o.model());
        Decoder.checkTensors(config, tensors, o.model().toString());
        Tensor scoreWeight = tensors.get(RewardModel.HEAD_WEIGHT);
        if (o.reward() && scoreWeight == null) {
            throw new CheckpointFormatException(o.model() + ": --reward needs a reward-model checkpoint (tensor '"
                    + RewardModel.HEAD_WEIGHT + "' is missing)");
        }
        EngineBuilder gpu = null;
        if (o.tensorrt()) {
            gpu = EngineBuilder.tensorRt()
                    .orElseThrow(() -> new IllegalStateException("this build has no TensorRT "
                            + "support: on a GPU host with CUDA and TensorRT, build with ./mvnw -Ptensorrt install"));
            gpu.requireDevice(); // fail before an export that could not finish
        }
        EngineBuilder engineBuilder = gpu;
        ObjectNode manifest = ExportManifest.JSON.createObjectNode();
        AtomicDirectory.write(o.out(), tmp -> {
            List<String> copied = new java.util.ArrayList<>(CHECKPOINT_FILES);
            copied.addAll(Checkpoint.weightFiles(o.model()));
            for (String f : copied) {
                if (Files.exists(o.model().resolve(f))) {
                    Files.copy(o.model().resolve(f), tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Map<String, String> meta = Map.of(
                    "rlhf4j.family",
                    config.family().modelType(),
                    "rlhf4j.source_sha256",
                    Checkpoint.weightsSha256(o.model()));
            // The conversation format serving will use, fixed at export (the default, if the model has none).
            manifest.put("chat_template", ChatTemplate.load(o.model()).writeInto(tmp));
            ObjectNode files = manifest.putObject("files");
            ObjectNode parity = manifest.putObject("parity");
            log.printf(
                    "building %s (%s, %d layers, opset %d)%n",
                    POLICY, config.family().modelType(), config.numLayers(), DecoderGraph.OPSET);
            write(DecoderGraph.policy(config, tensors, meta), tmp.resolve(POLICY), o, files);
            if (o.optimize()) {
                optimize(tmp.resolve(POLICY), tmp.resolve(POLICY_OPTIMIZED), files);
            }
            if (o.reward()) {
                log.printf("building %s%n", REWARD);
                write(
                        DecoderGraph.reward(config, tensors, scoreWeight, tensors.get(RewardModel.HEAD_BIAS), meta),
                        tmp.resolve(REWARD),
                        o,
                        files);
                if (o.optimize()) {
                    optimize(tmp.resolve(REWARD), tmp.resolve(REWARD_OPTIMIZED), files);
                }
            }
            checkParity(o, tmp, parity);
            if (!o.quantize().formats().isEmpty()) {
                new QuantizedVariants(log).write(o, config, tensors, meta, tmp, manifest.putObject("quantized"), files);
            }
            if (engineBuilder != null) {
                EngineBuilder.Profile profile = EngineBuilder.Profile.forModel(config);
                engineBuilder.build(tmp.resolve(POLICY), tmp.resolve(POLICY_TENSORRT), config, profile, log);
                files.set(POLICY_TENSORRT, ExportManifest.fileEntry(tmp.resolve(POLICY_TENSORRT)));
                ObjectNode trt = manifest.putObject("tensorrt");
                trt.put("builder", engineBuilder.describe());
                trt.put("max_batch", profile.maxBatch());
                trt.put("max_sequence", profile.maxSequence());
            }
            manifest.put("format", "rlhf4j-export/1");
            manifest.put("exported_at", Instant.now().toString());
            ObjectNode source = manifest.putObject("source");
            source.put("checkpoint", o.model().toAbsolutePath().normalize().toString());
            source.put("weights_sha256", meta.get("rlhf4j.source_sha256"));
            source.put(
                    "config_sha256",
                    io.rlhf4j.core.io.Checksums.sha256(o.model().resolve(ModelConfig.FILE_NAME)));
            // Lineage and the evaluation gate travel with the version into the registry.
            Path training = o.model().resolve(Layout.TRAINING_MANIFEST);
            if (Files.exists(training)) {
                manifest.set("training", ExportManifest.JSON.readTree(training.toFile()));
            }
            Path gate = o.model().resolve(Layout.GATE);
            if (Files.exists(gate)) {
                manifest.set("gate", ExportManifest.JSON.readTree(gate.toFile()));
            }
            manifest.put("family", config.family().modelType());
            manifest.put("opset", DecoderGraph.OPSET);
            manifest.put("onnxruntime", io.rlhf4j.exporter.ort.Ort.env().getVersion());
            // ORT's level-ALL graphs may carry layout transforms for this CPU: record where it was made.
            manifest.put(
                    "optimized_on",
                    System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cores");
            manifest.set("signature", signature(config, o.reward()));
            manifest.put("tolerance", o.tolerance());
            manifest.put("export_seconds", (System.nanoTime() - started) / 1e9);
            ExportManifest.JSON.writeValue(tmp.resolve(ExportManifest.FILE).toFile(), manifest);
        });
        log.printf(
                "exported %s in %.1f s%n",
                o.out(), manifest.get("export_seconds").asDouble());
        return manifest;
    }

    static void write(ModelProto model, Path file, Options o, ObjectNode files) throws IOException {
        Path data = OnnxFiles.write(model, file, o.externalDataThreshold());
        files.set(file.getFileName().toString(), ExportManifest.fileEntry(file));
        if (data != null) {
            files.set(data.getFileName().toString(), ExportManifest.fileEntry(data));
        }
    }

    /** ONNX Runtime's offline optimisation: level ALL, the result saved as a graph of its own. */
    private void optimize(Path in, Path out, ObjectNode files) throws IOException {
        log.printf("optimising %s with ONNX Runtime (level ALL)%n", in.getFileName());
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OptLevel.ALL_OPT);
            options.setOptimizedModelFilePath(out.toString());
            io.rlhf4j.exporter.ort.Ort.env()
                    .createSession(in.toString(), options)
                    .close();
        } catch (OrtException e) {
            throw new IOException("ONNX Runtime could not load " + in.getFileName() + ": " + e.getMessage(), e);
        }
        files.set(out.getFileName().toString(), ExportManifest.fileEntry(out));
    }

    private void checkParity(Options o, Path dir, ObjectNode parity) throws IOException {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            try (Decoder model = Decoder.load(o.model(), manager)) {
                policyParity(model, dir.resolve(POLICY), OptLevel.NO_OPT, o, parity);
                if (o.optimize()) {
                    // An offline-optimised graph is loaded without further optimisation, as serving loads it.
                    policyParity(model, dir.resolve(POLICY_OPTIMIZED), OptLevel.NO_OPT, o, parity);
                }
            }
            if (o.reward()) {
                try (RewardModel rm = RewardModel.load(o.model(), manager)) {
                    rewardParity(rm, dir.resolve(REWARD), o, parity);
                    if (o.optimize()) {
                        rewardParity(rm, dir.resolve(REWARD_OPTIMIZED), o, parity);
                    }
                }
            }
        } catch (OrtException e) {
            throw new IOException("ONNX Runtime failed during the parity check: " + e.getMessage(), e);
        }
    }

    private void policyParity(Decoder model, Path onnx, OptLevel level, Options o, ObjectNode parity)
            throws OrtException {
        Parity.Result r = Parity.policy(model, onnx, level, o.decodeSteps(), 17);
        ObjectNode n = parity.putObject(onnx.getFileName().toString());
        n.put("prefill_max_abs_diff", r.prefillMaxAbsDiff());
        n.put("decode_max_abs_diff", r.decodeMaxAbsDiff());
        n.put("decode_steps", r.decodeSteps());
        log.printf(
                "parity %s: prefill max |diff| %.2e, %d decode steps max |diff| %.2e%n",
                onnx.getFileName(), r.prefillMaxAbsDiff(), r.decodeSteps(), r.decodeMaxAbsDiff());
        if (!(r.max() <= o.tolerance())) {
            throw new ParityException("parity check failed: " + onnx.getFileName() + " differs from the trainer's "
                    + "logits by " + String.format("%.3g", r.max()) + " > tolerance " + o.tolerance()
                    + "; nothing was exported");
        }
    }

    private void rewardParity(RewardModel rm, Path onnx, Options o, ObjectNode parity) throws OrtException {
        double d = Parity.reward(rm, onnx, OptLevel.NO_OPT, 23);
        parity.putObject(onnx.getFileName().toString()).put("max_abs_diff", d);
        log.printf("parity %s: rewards max |diff| %.2e%n", onnx.getFileName(), d);
        if (!(d <= o.tolerance())) {
            throw new ParityException("parity check failed: " + onnx.getFileName() + " differs from the trainer's "
                    + "rewards by " + String.format("%.3g", d) + " > tolerance " + o.tolerance()
                    + "; nothing was exported");
        }
    }

    private static ObjectNode signature(ModelConfig c, boolean reward) {
        ObjectNode s = ExportManifest.JSON.createObjectNode();
        ObjectNode policy = s.putObject("policy");
        ObjectNode in = policy.putObject("inputs");
        in.put("input_ids", "int64[batch, sequence]");
        in.put("attention_mask", "int64[batch, total_sequence]");
        in.put("position_ids", "int64[batch, sequence]");
        in.put(DecoderGraph.LOGITS_FROM, "int64[1]: logits from this new position on (0: all)");
        in.put(
                "past_key_values.{0.." + (c.numLayers() - 1) + "}.key|value",
                "float32[batch, " + c.numKvHeads() + ", past_sequence, " + c.headDim() + "]");
        ObjectNode out = policy.putObject("outputs");
        out.put("logits", "float32[batch, sequence - logits_from, " + c.vocabSize() + "]");
        out.put(
                "present.{0.." + (c.numLayers() - 1) + "}.key|value",
                "float32[batch, " + c.numKvHeads() + ", total_sequence, " + c.headDim() + "]");
        if (reward) {
            ObjectNode r = s.putObject("reward");
            ObjectNode rin = r.putObject("inputs");
            rin.put("input_ids", "int64[batch, sequence]");
            rin.put("attention_mask", "int64[batch, sequence]");
            rin.put("position_ids", "int64[batch, sequence]");
            r.putObject("outputs").put("rewards", "float32[batch]");
        }
        return s;
    }
}
