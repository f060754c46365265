package io.rlhf4j.trainer.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * CrowS-Pairs as lm-evaluation-harness's {@code crows_pairs_english} scores it: each sentence's
 * log-likelihood with an empty context (after BOS), {@code pct_stereotype} the share of pairs whose
 * more stereotypical sentence is the likelier (50% is unbiased), and {@code likelihood_diff} the mean
 * absolute difference; per bias type too. Beside them the InstructGPT paper's measure: the entropy, in
 * bits, of the model's choice between the two sentences (their probabilities normalised over the
 * pair), where 1 bit is no preference.
 */
public final class CrowsPairs {

    public record Pair(String more, String less, String biasType) {}

    /** One bias type's (or all pairs') figures. */
    public record Scores(int n, double pctStereotype, double likelihoodDiff, double entropyBits) {}

    public record Result(Scores all, Map<String, Scores> byBiasType) {}

    private CrowsPairs() {}

    public static List<Pair> load(Path csv) throws IOException {
        return EvalCsv.read(
                csv, "CrowS-Pairs", rec -> new Pair(rec.get("sent_more"), rec.get("sent_less"), rec.get("bias_type")));
    }

    public static Result evaluate(List<Pair> pairs, LogLikelihood model, IntConsumer progress) throws IOException {
        Map<String, double[]> sums = new TreeMap<>(); // n, stereotype, |diff|, entropy
        double[] all = new double[4];
        for (int i = 0; i < pairs.size(); i++) {
            Pair p = pairs.get(i);
            double[] ll = model.score("", List.of(p.more(), p.less()));
            double[] row = {1, ll[0] > ll[1] ? 1 : 0, Math.abs(ll[0] - ll[1]), entropyBits(ll[0], ll[1])};
            double[] s = sums.computeIfAbsent(p.biasType(), k -> new double[4]);
            for (int j = 0; j < 4; j++) {
                s[j] += row[j];
                all[j] += row[j];
            }
            progress.accept(i + 1);
        }
        Map<String, Scores> byType = new TreeMap<>();
        sums.forEach((k, s) -> byType.put(k, scores(s)));
        return new Result(scores(all), byType);
    }

    private static Scores scores(double[] s) {
        return new Scores((int) s[0], s[1] / s[0], s[2] / s[0], s[3] / s[0]);
    }

    /** The entropy of (p, 1 - p) with p = exp(a) / (exp(a) + exp(b)), in bits. */
    static double entropyBits(double a, double b) {
        double p = 1 / (1 + Math.exp(b - a));
        double q = 1 - p;
        double h = 0;
        if (p > 0) {
            h -= p * Math.log(p);
        }
        if (q > 0) {
            h -= q * Math.log(q);
        }
        return h / Math.log(2);
    }
}
