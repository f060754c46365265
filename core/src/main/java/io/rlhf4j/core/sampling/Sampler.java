package io.rlhf4j.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks a token from one row of logits: temperature, then top-k, then top-p, then a seeded draw.
 * Engine-neutral (plain float arrays), so the trainer and serving pick tokens the same way.
 */
public final class Sampler {

    private Sampler() {}

    /** log-softmax of the raw logits at {@code token}: the model's own log-probability. */
    public static float logprob(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        return (float) (logits[token] - max - Math.log(sum));
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    public static int sample(float[] logits, SamplingParams p, SplittableRandom rng) {
        if (p.isGreedy()) {
            return argmax(logits);
        }
        int v = logits.length;
        Integer[] order = null;
        int keep = v;
        if (p.topK() > 0 && p.topK() < v) {
            keep = p.topK();
        }
        if (keep < v || p.topP() < 1) {
            order = new Integer[v];
            for (int i = 0; i < v; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] probs = new double[v];
        double total = 0;
        for (int i = 0; i < v; i++) {
            probs[i] = Math.exp((logits[i] - max) / p.temperature());
            total += probs[i];
        }
        if (order == null) {
            return draw(probs, total, rng);
        }
        // Nucleus: the smallest prefix (within top-k) whose mass reaches top_p.
        double mass = 0;
        int n = 0;
        for (; n < keep; n++) {
            mass += probs[order[n]] / total;
            if (mass >= p.topP()) {
                n++;
                break;
            }
        }
        double[] kept = new double[v];
        double keptTotal = 0;
        for (int i = 0; i < n; i++) {
            kept[order[i]] = probs[order[i]];
            keptTotal += probs[order[i]];
        }
        return draw(kept, keptTotal, rng);
    }

    private static int draw(double[] weights, double total, SplittableRandom rng) {
        double u = rng.nextDouble() * total;
        double acc = 0;
        int last = 0;
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] > 0) {
                acc += weights[i];
                last = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return last;
    }
}
