package io.rlhf4j.trainer.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/** A mean with its percentile bootstrap 95% interval, as every evaluation here reports one. */
public record MeanInterval(double mean, double low, double high) {

    /** Over 1,000 resamples of {@code xs}, seeded so a rerun prints the same interval. */
    public static MeanInterval of(double[] xs) {
        double mean = Arrays.stream(xs).average().orElse(Double.NaN);
        SplittableRandom rng = new SplittableRandom(20261203);
        double[] means = new double[1000];
        for (int b = 0; b < means.length; b++) {
            double s = 0;
            for (int i = 0; i < xs.length; i++) {
                s += xs[rng.nextInt(xs.length)];
            }
            means[b] = s / xs.length;
        }
        Arrays.sort(means);
        return new MeanInterval(mean, means[24], means[974]);
    }
}
