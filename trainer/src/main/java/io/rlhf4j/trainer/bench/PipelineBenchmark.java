package io.rlhf4j.trainer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.ppo.PpoConfig;
import io.rlhf4j.trainer.ppo.PpoTrainer;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.run.RunDirectory;
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
 * Throughput of the InstructGPT pipeline on this machine (issue #5): a short real run of each stage,
 * through the trainers' public APIs, on a synthetic snapshot of realistic lengths. SFT completion
 * tokens/s is the trainer's own figure over its training loop. Reward-model comparisons/s counts the
 * C(K,2) ranked pairs of each ranking, over the difference of two runs that differ only in epochs, so
 * loading, evaluation and checkpointing cancel. Each PPO iteration reports rollout tokens/s and the
 * share of its time spent generating rather than scoring and updating (PPO's own metrics). Figures,
 * not pass/fail: the {@code bench} command prints them.
 */
public final class PipelineBenchmark {

    /**
     * Lengths (in the model's tokens) and step counts. SFT trains {@code sftSteps} batches of
     * {@code sftBatch} demonstrations; the reward model {@code rmSteps} steps of {@code rmRankingsPerStep}
     * rankings of {@code k}; PPO {@code ppoIterations} of {@code ppoRollouts} samples of
     * {@code ppoNewTokens}, then {@code ppoEpochs} epochs over minibatches of {@code ppoMinibatch}.
     */
    public record Sizes(
            int promptTokens,
            int completionTokens,
            int k,
            int sftBatch,
            int sftSteps,
            int rmRankingsPerStep,
            int rmSteps,
            int ppoIterations,
            int ppoRollouts,
            int ppoNewTokens,
            int ppoEpochs,
            int ppoMinibatch) {

        /** For a model of stories260K's size; PPO as {@link PpoConfig#defaults()} but with 48 new tokens. */
        public static Sizes small() {
            return new Sizes(16, 48, 4, 8, 16, 2, 16, 3, 16, 48, 2, 8);
        }

        /** For a GPT-2-small-shaped model, ~100x slower a token: about the fewest steps that measure anything. */
        public static Sizes tiny() {
            return new Sizes(16, 48, 4, 2, 2, 1, 1, 2, 4, 16, 1, 4);
        }

        int pairsPerRanking() {
            return k * (k - 1) / 2;
        }
    }

    /** One model's figures; {@code ppo} holds every iteration's, {@code seconds} the whole run's wall time. */
    public record Figures(
            String model,
            long parameters,
            double sftTokensPerSecond,
            double rmComparisonsPerSecond,
            List<PpoTrainer.Stats> ppo,
            double seconds) {

        public double rolloutTokensPerSecond() {
            return ppo.stream()
                    .mapToDouble(PpoTrainer.Stats::rolloutTokensPerSecond)
                    .average()
                    .orElse(Double.NaN);
        }

        public double generationShare() {
            return ppo.stream()
                    .mapToDouble(PpoTrainer.Stats::generationShare)
                    .average()
                    .orElse(Double.NaN);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    private static final long SEED = 1234;
    private static final String[] WORDS = ("once upon a time there was a little girl named lily she liked to play in "
                    + "the park with her big red ball one day saw cat sat on tree and said hello friend they were happy went "
                    + "home mom gave them cake dog ran fast because sun warm sky blue bird sang song")
            .split(" ");

    private final PrintStream out;

    public PipelineBenchmark(PrintStream out) {
        this.out = out;
    }

    /** Runs SFT, the reward model and PPO from {@code checkpoint} in {@code work}, which is deleted afterwards. */
    public Figures run(String name, Path checkpoint, Sizes s, Path work) throws IOException {
        long start = System.nanoTime();
        long parameters = Checkpoint.readConfig(checkpoint).parameterCount();
        out.printf(
                "%s: %,d parameters; prompts ~%d tokens, completions ~%d, rankings of K=%d%n",
                name, parameters, s.promptTokens(), s.completionTokens(), s.k());
        try {
            Path snapshot = work.resolve("snapshot");
            writeSnapshot(snapshot, Checkpoint.readTokenizer(checkpoint), s);

            Path sft = work.resolve("sft");
            SftConfig sftConfig = SftConfig.builder()
                    .epochs(1)
                    .batchSize(s.sftBatch())
                    .lr(1e-4)
                    .minLr(1e-5)
                    .warmupSteps(0)
                    .weightDecay(0.0)
                    .gradClip(1.0)
                    .dropout(0.1)
                    .evalEvery(Integer.MAX_VALUE)
                    .seed(SEED)
                    .build();
            double sftSeconds = seconds(() -> new SftTrainer(sftConfig, QUIET).run(snapshot, checkpoint, sft));
            double sftRate = lastMetric(sft, "tokens_per_s");
            row(
                    "sft",
                    s.sftSteps() + " steps x " + s.sftBatch() + " demonstrations",
                    sftRate,
                    String.format("completion tokens/s   stage %.1f s", sftSeconds));

            // Loading and a first evaluation warm the reward model's code paths, so neither timed run pays for that.
            new RewardTrainer(rmConfig(s, 1), QUIET).stopAfter(0).run(snapshot, sft, work.resolve("rm0"));
            Path rm = work.resolve("rm");
            Path rm1 = work.resolve("rm1");
            double once = seconds(() -> new RewardTrainer(rmConfig(s, 1), QUIET).run(snapshot, sft, rm1));
            double twice = seconds(() -> new RewardTrainer(rmConfig(s, 2), QUIET).run(snapshot, sft, rm));
            int pairs = s.rmSteps() * s.rmRankingsPerStep() * s.pairsPerRanking();
            double rmRate = twice > once ? pairs / (twice - once) : Double.NaN; // NaN: lost in the noise
            row(
                    "rm",
                    s.rmSteps() + " steps x " + s.rmRankingsPerStep() + " rankings x " + s.pairsPerRanking() + " pairs",
                    rmRate,
                    String.format("comparisons/s         runs of 1 and 2 epochs %.1f s, %.1f s", once, twice));

            PpoConfig ppoConfig = PpoConfig.builder()
                    .iterations(s.ppoIterations())
                    .rolloutsPerIteration(s.ppoRollouts())
                    .maxNewTokens(s.ppoNewTokens())
                    .ppoEpochs(s.ppoEpochs())
                    .minibatchSize(s.ppoMinibatch())
                    .lr(1e-5)
                    .valueLr(1e-5)
                    .beta(0.02)
                    .klTarget(0.0)
                    .gamma(0.0)
                    .ptxBatchSize(8)
                    .discount(1.0)
                    .lambda(0.95)
                    .clipRange(0.2)
                    .valueClipRange(0.2)
                    .gradClip(1.0)
                    .seed(SEED)
                    .build();
            List<PpoTrainer.Stats> ppo = new ArrayList<>();
            double ppoSeconds = seconds(() -> ppo.addAll(new PpoTrainer(ppoConfig, QUIET)
                    .run(snapshot, sft, rm, work.resolve("ppo"), null)
                    .iterations()));
            out.printf(
                    "  ppo  %d rollouts x %d new tokens, %d epoch(s) of minibatches of %d: stage %.1f s%n",
                    s.ppoRollouts(), s.ppoNewTokens(), s.ppoEpochs(), s.ppoMinibatch(), ppoSeconds);
            for (PpoTrainer.Stats it : ppo) {
                row(
                        "",
                        "iteration " + (it.iteration() + 1),
                        it.rolloutTokensPerSecond(),
                        String.format(
                                "rollout tokens/s      generation %.0f%%, scoring + updates %.0f%%",
                                100 * it.generationShare(), 100 * (1 - it.generationShare())));
            }
            double total = (System.nanoTime() - start) / 1e9;
            out.printf("  whole run %.1f s%n", total);
            return new Figures(name, parameters, sftRate, rmRate, List.copyOf(ppo), total);
        } finally {
            AtomicDirectory.deleteRecursively(work);
        }
    }

    private void row(String stage, String what, double figure, String rest) {
        out.printf("  %-4s %-34s %10.1f %s%n", stage, what, figure, rest);
    }

    private static RmConfig rmConfig(Sizes s, int epochs) {
        return RmConfig.builder()
                .epochs(epochs)
                .rankingsPerStep(s.rmRankingsPerStep())
                .lr(1e-4)
                .minLr(1e-5)
                .warmupSteps(0)
                .weightDecay(0.0)
                .gradClip(1.0)
                .evalEvery(Integer.MAX_VALUE)
                .seed(SEED)
                .build();
    }

    /**
     * A snapshot as {@code DatasetBuilder} writes one: per split, SFT demonstrations, reward-model rankings
     * of {@code k} completions and PPO prompts. Training splits hold exactly what the step counts consume;
     * validation and test two rows each.
     */
    static void writeSnapshot(Path dir, Tokenizer tokenizer, Sizes s) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom rng = new SplittableRandom(SEED);
        for (String split : List.of("train", "validation", "test")) {
            boolean train = split.equals("train");
            List<String> sft = new ArrayList<>();
            for (int i = 0; i < (train ? s.sftBatch() * s.sftSteps() : 2); i++) {
                ObjectNode row = JSON.createObjectNode()
                        .put("prompt_id", split + "-" + i)
                        .put("user_id", "bench")
                        .put("source", "bench")
                        .put("prompt", text(tokenizer, rng, s.promptTokens()));
                row.putArray("demonstrations")
                        .addObject()
                        .put("labeler", "bench")
                        .put("text", text(tokenizer, rng, s.completionTokens()));
                sft.add(JSON.writeValueAsString(row));
            }
            List<String> rm = new ArrayList<>();
            for (int i = 0; i < (train ? s.rmRankingsPerStep() * s.rmSteps() : 2); i++) {
                ObjectNode row = JSON.createObjectNode().put("prompt", text(tokenizer, rng, s.promptTokens()));
                ArrayNode completions = row.putArray("completions");
                ObjectNode ranking = row.putArray("rankings").addObject().put("labeler", "bench");
                ArrayNode indices = ranking.putArray("completions");
                ArrayNode ranks = ranking.putArray("ranks");
                int[] order = permutation(s.k(), rng);
                for (int c = 0; c < s.k(); c++) {
                    completions.add(text(tokenizer, rng, s.completionTokens()));
                    indices.add(c);
                    ranks.add(order[c]);
                }
                rm.add(JSON.writeValueAsString(row));
            }
            List<String> ppo = new ArrayList<>();
            for (int i = 0; i < (train ? s.ppoRollouts() * s.ppoIterations() : 2); i++) {
                ppo.add(JSON.writeValueAsString(
                        JSON.createObjectNode().put("prompt", text(tokenizer, rng, s.promptTokens()))));
            }
            Files.write(dir.resolve("sft." + split + ".jsonl"), sft);
            Files.write(dir.resolve("rm." + split + ".jsonl"), rm);
            Files.write(dir.resolve("ppo." + split + ".jsonl"), ppo);
        }
    }

    /** Random words until the text is at least {@code tokens} tokens long in this tokenizer. */
    static String text(Tokenizer tokenizer, SplittableRandom rng, int tokens) {
        StringBuilder b = new StringBuilder();
        while (tokenizer.encode(b.toString(), false).length < tokens) {
            b.append(b.isEmpty() ? "" : " ").append(WORDS[rng.nextInt(WORDS.length)]);
        }
        return b.toString();
    }

    private static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            int j = rng.nextInt(i + 1);
            p[i] = p[j];
            p[j] = i;
        }
        return p;
    }

    static double lastMetric(Path run, String field) throws IOException {
        double value = Double.NaN;
        for (String line : Files.readAllLines(run.resolve(RunDirectory.METRICS))) {
            JsonNode row = JSON.readTree(line);
            value = row.has(field) ? row.get(field).asDouble() : value;
        }
        return value;
    }

    private interface Stage {
        void run() throws IOException;
    }

    private static double seconds(Stage stage) throws IOException {
        long t0 = System.nanoTime();
        stage.run();
        return (System.nanoTime() - t0) / 1e9;
    }
}
