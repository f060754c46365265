package io.rlhf4j.trainer.eval;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How often model A's completion beats model B's on the same prompts, as InstructGPT reports its
 * human evaluations: a tie counts half. Both models sample with the same seed and settings.
 */
public final class WinRate {

    /** Sampling for the comparison; temperature 0 compares each model's greedy (best) answers. */
    public record Options(int maxNewTokens, double temperature, long seed, int batch) {
        public static Options defaults() {
            return new Options(32, 0.0, 1234, 16);
        }
    }

    public record Result(
            String judge, int n, double winRate, int wins, int ties, int losses, double meanA, double meanB) {}

    private WinRate() {}

    public static Result evaluate(Path a, Path b, List<String> prompts, Judge judge, Options o) throws IOException {
        return evaluate(a, List.of(b), prompts, judge, o).get(0);
    }

    /**
     * Model A against each of {@code others} on the same prompts: A's answers are generated and judged
     * once, whatever the number of baselines (the gate compares a candidate with the active version and
     * with its SFT model).
     */
    public static List<Result> evaluate(Path a, List<Path> others, List<String> prompts, Judge judge, Options o)
            throws IOException {
        List<Path> all = new ArrayList<>(List.of(a));
        all.addAll(others);
        Table t = table(all, prompts, judge, o);
        List<Result> out = new ArrayList<>();
        for (int i = 1; i < all.size(); i++) {
            out.add(t.between(0, i));
        }
        return out;
    }

    /**
     * Every model's judged answers on the same prompts, each model generated once, so that any pair
     * compares from them (a comparison of several stages against each other and their baselines).
     */
    public record Table(String judge, List<double[]> scores) {
        /** Model {@code a} against model {@code b}, by their index in the table. */
        public Result between(int a, int b) {
            return compare(judge, scores.get(a), scores.get(b));
        }
    }

    /** The judge's scores of each model's answers to the prompts every model's context fits. */
    public static Table table(List<Path> models, List<String> prompts, Judge judge, Options o) throws IOException {
        Path first = models.get(0);
        int window = Checkpoint.readConfig(first).maxPositions();
        for (Path b : models.subList(1, models.size())) {
            if (!Checkpoint.sameTokenizer(first, b)) {
                throw new IllegalArgumentException(
                        first + " and " + b + " tokenize differently; compare models of one " + "lineage");
            }
            window = Math.min(window, Checkpoint.readConfig(b).maxPositions());
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to evaluate on (the snapshot's test split is empty)");
        }
        Tokenizer tokenizer = Checkpoint.readTokenizer(first);
        List<String> kept = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        for (String p : prompts) {
            int[] t = tokenizer.encode(p, true);
            if (t.length > 0 && t.length + 2 < window) {
                kept.add(p);
                ids.add(t);
            }
        }
        if (kept.isEmpty()) {
            throw new IllegalArgumentException("every prompt is too long for the models' context window");
        }
        List<double[]> scores = new ArrayList<>();
        for (Path m : models) {
            scores.add(scores(m, kept, ids, judge, o, tokenizer.eosId()));
        }
        return new Table(judge.name(), scores);
    }

    private static Result compare(String judge, double[] sa, double[] sb) {
        int wins = 0;
        int ties = 0;
        double sumA = 0;
        double sumB = 0;
        for (int i = 0; i < sa.length; i++) {
            if (Math.abs(sa[i] - sb[i]) < 1e-9) {
                ties++;
            } else if (sa[i] > sb[i]) {
                wins++;
            }
            sumA += sa[i];
            sumB += sb[i];
        }
        int n = sa.length;
        return new Result(judge, n, (wins + 0.5 * ties) / n, wins, ties, n - wins - ties, sumA / n, sumB / n);
    }

    /** The judge's scores of one model's completions, generated in batches. */
    public static double[] scores(Path model, List<String> prompts, List<int[]> ids, Judge judge, Options o, int eosId)
            throws IOException {
        double[] out = new double[prompts.size()];
        try (NDManager manager = TrainingDevice.newManager();
                Decoder decoder = Decoder.load(model, manager)) {
            Generator generator = new Generator(decoder, Checkpoint.readTokenizer(model));
            int window = decoder.config().maxPositions();
            for (int from = 0; from < prompts.size(); from += o.batch()) {
                int to = Math.min(prompts.size(), from + o.batch());
                List<int[]> part = ids.subList(from, to);
                int longest = part.stream().mapToInt(p -> p.length).max().orElseThrow();
                int budget = Math.max(1, Math.min(o.maxNewTokens(), window - longest - 1));
                List<Generation> gens = generator.generate(
                        part, new SamplingParams(budget, o.temperature(), 1.0, 0, List.of(), o.seed() + from));
                double[] s = judge.score(prompts.subList(from, to), part, gens, eosId);
                System.arraycopy(s, 0, out, from, s.length);
            }
        }
        return out;
    }
}
