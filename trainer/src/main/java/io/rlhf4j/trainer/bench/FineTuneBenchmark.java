package io.rlhf4j.trainer.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.io.ProcMemory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Precision;
import io.rlhf4j.trainer.model.PretrainingMix;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.run.MemoryEstimate;
import io.rlhf4j.trainer.run.TrainingDevice;
import io.rlhf4j.trainer.sft.SftConfig;
import io.rlhf4j.trainer.sft.SftTrainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What fine-tuning a real-sized model costs on this machine (issue #15): SFT, the reward model and one
 * PPO-ptx iteration, in full and with LoRA, each in a JVM of its own (a JVM keeps the heap an earlier
 * stage grew, so peaks within one process say nothing about the later stages): its peak resident memory
 * beside the estimate the trainer printed, its tokens/s and its MFU, model FLOPs per second over the
 * machine's own fp32 matrix-multiply rate, measured in the same run. A stage whose estimate exceeds the
 * machine is reported as refused, as the trainer refuses it.
 */
public final class FineTuneBenchmark {

    /** One stage's figures; a refused stage did not run and has only its estimate. */
    public record Row(
            String mode,
            String stage,
            double estimateGib,
            boolean refused,
            double peakGib,
            double tokensPerSecond,
            double mfu) {}

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE);
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    private static final long SEED = 99;
    private static final double GIB = 1L << 30;
    /** Prompts, completions and batches: short, so a 0.5B model's stages take a minute or two here. */
    static final PipelineBenchmark.Sizes SIZES = new PipelineBenchmark.Sizes(16, 48, 4, 4, 4, 1, 4, 1, 4, 16, 1, 4);

    private final PrintStream out;
    private final double sgemmFlops;

    public FineTuneBenchmark(PrintStream out, double sgemmFlops) {
        this.out = out;
        this.sgemmFlops = sgemmFlops;
    }

    /**
     * The machine's fp32 matrix-multiply rate in FLOP/s through the trainer's engine: the denominator of
     * MFU. Square products of {@code n}, after a warm-up, best of five.
     */
    public static double sgemmFlops(int n) {
        try (NDManager m = TrainingDevice.newManager()) {
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            a.matMul(b).close();
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                c.getFloat(0, 0); // waits for the product
                best = Math.min(best, System.nanoTime() - t0);
                c.close();
            }
            return 2.0 * n * n * n / (best / 1e9);
        }
    }

    /**
     * Full fine-tuning, then {@code lora} on a base held in fp32 and in fp16, on {@code checkpoint}, in
     * {@code work} (deleted afterwards).
     */
    public List<Row> run(String name, Path checkpoint, LoraConfig lora, Path work) throws IOException {
        ModelConfig config = Checkpoint.readConfig(checkpoint);
        out.printf(
                "%s: %,d parameters; %s; each stage in a JVM of its own, its peak resident memory (VmHWM)%n",
                name, config.parameterCount(), describe(SIZES));
        out.printf(
                "  %-11s %-14s %12s %10s %10s %6s%n", "mode", "stage", "estimate GiB", "peak GiB", "tokens/s", "MFU");
        List<Row> rows = new ArrayList<>();
        try {
            Path snapshot = work.resolve("snapshot");
            PipelineBenchmark.writeSnapshot(snapshot, Checkpoint.readTokenizer(checkpoint), SIZES);
            LoraConfig fp32 = lora.withBasePrecision(Precision.FP32);
            for (LoraConfig mode : java.util.Arrays.asList(null, fp32, fp32.withBasePrecision(Precision.FP16))) {
                String label = mode == null
                        ? "full"
                        : "lora" + mode.rank() + " " + mode.basePrecision().id();
                Path dir = work.resolve(label.replace(' ', '-'));
                boolean refused = false;
                for (Stage stage : Stage.values()) {
                    if (refused) {
                        out.printf(
                                "  %-11s %-14s   not run: it needs the refused stage before it%n", label, stage.label);
                        continue;
                    }
                    Row row = toRow(label, stage, launch(stage, mode, checkpoint, snapshot, dir), config);
                    refused = row.refused();
                    rows.add(row);
                }
                AtomicDirectory.deleteRecursively(dir);
            }
        } finally {
            AtomicDirectory.deleteRecursively(work);
        }
        return rows;
    }

    /** The stages, each run in a JVM of its own so that its peak memory is its alone. */
    enum Stage {
        SFT("sft"),
        RM("reward model"),
        PPO("ppo-ptx iter.");

        final String label;

        Stage(String label) {
            this.label = label;
        }
    }

    /**
     * What a stage's JVM reports back: the estimate the trainer printed (or refused with, and why), and
     * where it ran, its peak resident bytes, tokens/s and the model FLOP/s of its training loop.
     */
    record Result(
            boolean refused,
            long estimateBytes,
            long peakBytes,
            double tokensPerSecond,
            double flopsPerSecond,
            String message) {}

    private Result launch(Stage stage, LoraConfig lora, Path checkpoint, Path snapshot, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path result = dir.resolve(stage.name().toLowerCase(java.util.Locale.ROOT) + ".result.json");
        List<String> cmd = new ArrayList<>(
                List.of(ProcessHandle.current().info().command().orElse("java"), "-Dai.djl.offline=true"));
        // The stage gets this JVM's memory flags: what the estimate is set against is the same machine.
        java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("-Xm") || a.startsWith("-XX:"))
                .forEach(cmd::add);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), FineTuneBenchmark.class.getName()));
        cmd.addAll(List.of(
                stage.name(),
                lora == null ? "0" : Integer.toString(lora.rank()),
                lora == null ? "0" : Double.toString(lora.alpha()),
                lora == null ? "fp32" : lora.basePrecision().id(),
                checkpoint.toString(),
                snapshot.toString(),
                dir.toString(),
                result.toString()));
        Path log = dir.resolve(stage.name().toLowerCase(java.util.Locale.ROOT) + ".log");
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            int code = p.waitFor();
            if (code != 0 || !Files.exists(result)) {
                List<String> lines = Files.readAllLines(log);
                throw new IOException(stage.label + " failed (exit " + code + "): "
                        + (lines.isEmpty() ? "no output" : lines.get(lines.size() - 1)));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        return JSON.readValue(result.toFile(), Result.class);
    }

    private Row toRow(String mode, Stage stage, Result r, ModelConfig config) {
        double estimate = r.estimateBytes() / GIB;
        if (r.refused()) {
            out.printf("  %-11s %-14s %12.2f   refused: %s%n", mode, stage.label, estimate, r.message());
            return new Row(mode, stage.label, estimate, true, Double.NaN, Double.NaN, Double.NaN);
        }
        Row row = new Row(
                mode,
                stage.label,
                estimate,
                false,
                r.peakBytes() / GIB,
                r.tokensPerSecond(),
                r.flopsPerSecond() / sgemmFlops);
        out.printf(
                "  %-11s %-14s %12.2f %10.2f %10.1f %5.0f%%%n",
                mode, stage.label, row.estimateGib(), row.peakGib(), row.tokensPerSecond(), 100 * row.mfu());
        return row;
    }

    /**
     * One stage in this JVM, as {@link #launch} starts it: {@code STAGE RANK ALPHA BASE_PRECISION
     * CHECKPOINT SNAPSHOT DIR RESULT}; rank 0 is full fine-tuning. Writes a {@link Result} to {@code RESULT}.
     */
    public static void main(String[] args) throws IOException {
        Stage stage = Stage.valueOf(args[0]);
        int rank = Integer.parseInt(args[1]);
        LoraConfig lora = rank == 0
                ? null
                : LoraConfig.of(rank, Double.parseDouble(args[2])).withBasePrecision(Precision.parse(args[3]));
        Path checkpoint = Path.of(args[4]);
        Path snapshot = Path.of(args[5]);
        Path dir = Path.of(args[6]);
        ModelConfig config = Checkpoint.readConfig(checkpoint);
        Path sft = dir.resolve("sft");
        Path rm = dir.resolve("rm");
        Result result;
        try {
            result = switch (stage) {
                case SFT -> {
                    SftTrainer.Outcome o =
                            new SftTrainer(sftConfig(), QUIET).withLora(lora).run(snapshot, checkpoint, sft);
                    double tps = PipelineBenchmark.lastMetric(sft, "sequence_tokens_per_s");
                    yield ran(o.memory(), tps, tps * trainFlops(config, true, lora != null));
                }
                case RM -> {
                    RewardTrainer.Outcome o =
                            new RewardTrainer(rmConfig(), QUIET).withLora(lora).run(snapshot, sft, rm);
                    double tps = PipelineBenchmark.lastMetric(rm, "tokens_per_s");
                    yield ran(o.memory(), tps, tps * trainFlops(config, false, lora != null));
                }
                case PPO -> {
                    Tokenizer tokenizer = Checkpoint.readTokenizer(checkpoint);
                    TokenStream ptx = TokenStream.of(
                            List.of(PipelineBenchmark.text(tokenizer, new SplittableRandom(SEED), 4096)), tokenizer);
                    PpoTrainer.Outcome o = new PpoTrainer(ppoConfig(), QUIET)
                            .withLora(lora)
                            .run(snapshot, sft, rm, dir.resolve("ppo"), ptx);
                    PpoTrainer.Stats it = o.iterations().get(0);
                    yield ran(
                            o.memory(),
                            it.trainedTokens() / it.seconds(),
                            ppoFlops(config, it, lora != null) / it.seconds());
                }
            };
        } catch (MemoryEstimate.TooLarge e) {
            result = new Result(true, e.estimate().total(), 0, Double.NaN, Double.NaN, e.reason());
        }
        JSON.writeValue(Path.of(args[7]).toFile(), result);
    }

    private static Result ran(MemoryEstimate memory, double tokensPerSecond, double flopsPerSecond) {
        return new Result(
                false,
                memory.total(),
                ProcMemory.peakResidentBytes(),
                tokensPerSecond,
                flopsPerSecond,
                memory.describe());
    }

    /**
     * Model FLOPs of one trained token: a forward is two per weight it multiplies by (the unembedding
     * only where there are logits); full training adds a backward of twice that, LoRA only the half of it
     * that carries gradients to the activations (frozen weights need none of their own).
     */
    static double trainFlops(ModelConfig c, boolean logits, boolean lora) {
        return (lora ? 2 : 3) * forwardFlops(c, logits);
    }

    static double forwardFlops(ModelConfig c, boolean logits) {
        long embedding = (long) c.vocabSize() * c.hiddenSize();
        long body = c.parameterCount() - embedding * (c.tieWordEmbeddings() ? 1 : 2);
        return 2.0 * (body + (logits ? embedding : 0));
    }

    /**
     * An iteration's model FLOPs, approximately: sampling and scoring each rollout token once with the
     * policy, the reference, the reward model and the critic, then every PPO epoch's policy and critic
     * updates and the pretraining windows that go with each minibatch.
     */
    static double ppoFlops(ModelConfig c, PpoTrainer.Stats it, boolean lora) {
        long rolloutTokens = it.trainedTokens() / SIZES.ppoEpochs();
        double scoring = rolloutTokens * (3 * forwardFlops(c, true) + 2 * forwardFlops(c, false));
        double updates = it.trainedTokens() * (trainFlops(c, true, lora) + trainFlops(c, false, lora));
        int minibatches = (SIZES.ppoRollouts() + SIZES.ppoMinibatch() - 1) / SIZES.ppoMinibatch() * SIZES.ppoEpochs();
        double ptx = (double) minibatches
                * ppoConfig().ptxBatchSize()
                * PretrainingMix.window(c)
                * trainFlops(c, true, lora);
        return scoring + updates + ptx;
    }

    private static String describe(PipelineBenchmark.Sizes s) {
        return String.format(
                "SFT %d steps x %d demonstrations, RM %d steps x %d ranking of %d, PPO-ptx 1 iteration of %d rollouts x "
                        + "%d new tokens",
                s.sftSteps(),
                s.sftBatch(),
                s.rmSteps(),
                s.rmRankingsPerStep(),
                s.k(),
                s.ppoRollouts(),
                s.ppoNewTokens());
    }

    private static SftConfig sftConfig() {
        return SftConfig.builder()
                .epochs(1)
                .batchSize(SIZES.sftBatch())
                .lr(1e-4)
                .minLr(1e-5)
                .warmupSteps(0)
                .dropout(0.0)
                .evalEvery(Integer.MAX_VALUE)
                .seed(SEED)
                .build();
    }

    private static RmConfig rmConfig() {
        return RmConfig.builder()
                .epochs(1)
                .rankingsPerStep(SIZES.rmRankingsPerStep())
                .lr(1e-4)
                .minLr(1e-5)
                .warmupSteps(0)
                .evalEvery(Integer.MAX_VALUE)
                .seed(SEED)
                .build();
    }

    private static PpoConfig ppoConfig() {
        return PpoConfig.builder()
                .iterations(SIZES.ppoIterations())
                .rolloutsPerIteration(SIZES.ppoRollouts())
                .maxNewTokens(SIZES.ppoNewTokens())
                .ppoEpochs(SIZES.ppoEpochs())
                .minibatchSize(SIZES.ppoMinibatch())
                .lr(1e-5)
                .valueLr(1e-5)
                .beta(0.02)
                .klTarget(0.0)
                .gamma(0.5)
                .ptxBatchSize(4)
                .seed(SEED)
                .build();
    }
}
