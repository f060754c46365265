package io.rlhf4j.trainer.rloo;

/**
 * RLOO's advantages: each of a prompt's samples is compared with the mean reward of the prompt's
 * other samples, {@code A_i = R_i - (sum_j R_j - R_i) / (n - 1)}, an unbiased baseline that needs no
 * critic. A group's advantages sum to zero.
 */
public final class LeaveOneOut {

    private LeaveOneOut() {}

    /** Advantages of one prompt's {@code rewards} (at least two). */
    public static double[] advantages(double[] rewards) {
        int n = rewards.length;
        if (n < 2) {
            throw new IllegalArgumentException("a leave-one-out baseline needs at least two samples, got " + n);
        }
        double sum = 0;
        for (double r : rewards) {
            sum += r;
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = rewards[i] - (sum - rewards[i]) / (n - 1);
        }
        return out;
    }
}
