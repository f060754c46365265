package io.rlhf4j.trainer.optim;

/** Learning-rate schedules shared by every training stage. */
public final class LearningRate {

    private LearningRate() {}

    /** Linear warm-up to {@code lr} over {@code warmup} steps, then cosine decay to {@code minLr} at the last step. */
    public static double warmupCosine(int step, int steps, int warmup, double lr, double minLr) {
        if (step < warmup) {
            return lr * (step + 1) / warmup;
        }
        double progress = (double) (step - warmup) / Math.max(1, steps - warmup);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * Math.min(1.0, progress)));
    }
}
