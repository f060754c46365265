package io.rlhf4j.trainer.ppo;

/**
 * Generalised advantage estimation (Schulman et al., 2016) over one completion's tokens:
 * {@code delta_t = r_t + gamma * V_{t+1} - V_t}, {@code A_t = delta_t + gamma * lambda * A_{t+1}}, and
 * {@code returns_t = A_t + V_t}, the value function's regression target. The value after the last
 * token is {@code terminalValue} (0 when the completion ended).
 */
public final class Gae {

    /** Advantages and returns for each token. */
    public record Result(double[] advantages, double[] returns) {}

    private Gae() {}

    public static Result compute(double[] rewards, double[] values, double terminalValue, double gamma, double lambda) {
        int n = rewards.length;
        if (values.length != n) {
            throw new IllegalArgumentException("rewards and values differ in length: " + n + " vs " + values.length);
        }
        double[] advantages = new double[n];
        double[] returns = new double[n];
        double next = 0;
        for (int t = n - 1; t >= 0; t--) {
            double nextValue = t == n - 1 ? terminalValue : values[t + 1];
            double delta = rewards[t] + gamma * nextValue - values[t];
            next = delta + gamma * lambda * next;
            advantages[t] = next;
            returns[t] = next + values[t];
        }
        return new Result(advantages, returns);
    }

    /** Advantages shifted to mean 0 and scaled to unit variance (PPO's advantage whitening). */
    public static double[] whiten(double[] advantages) {
        double mean = 0;
        for (double a : advantages) {
            mean += a;
        }
        mean /= advantages.length;
        double var = 0;
        for (double a : advantages) {
            var += (a - mean) * (a - mean);
        }
        var /= advantages.length;
        double std = Math.sqrt(var + 1e-8);
        double[] out = new double[advantages.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (advantages[i] - mean) / std;
        }
        return out;
    }
}
