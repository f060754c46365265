package io.rlhf4j.trainer.pretrain;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LanguageModelLoss;
import io.rlhf4j.trainer.model.Owned;
import io.rlhf4j.trainer.optim.AdamW;

/**
 * One optimisation step of next-token prediction (forward, backward, gradient clipping, AdamW), and
 * the matching evaluation loss. Shared by pretraining, the pretraining-mix term of PPO-ptx and the
 * benchmarks, so each measures the same thing.
 */
public final class CausalLmStep {

    /** What one step reports. */
    public record Result(double loss, double gradNorm) {}

    private final Decoder model;
    private final AdamW optimizer;
    private final double maxGradNorm;

    public CausalLmStep(Decoder model, AdamW optimizer, double maxGradNorm) {
        this.model = model;
        this.optimizer = optimizer;
        this.maxGradNorm = maxGradNorm;
        model.requireGradients();
    }

    /** @param windows [rows * (seqLen + 1)] token ids: inputs are the first seqLen, targets the last seqLen */
    public Result step(long[] windows, int rows, int seqLen, double lr) {
        return step(windows, null, null, rows, seqLen, lr);
    }

    /**
     * One step where only some targets count and rows may be right-padded.
     *
     * @param weights [rows * seqLen], 1 for the targets the loss counts (a completion's tokens), else 0;
     *     null counts all
     * @param keyMask [rows * seqLen], 1 for real input tokens, 0 for padding; null when all are real
     */
    public Result step(long[] windows, float[] weights, long[] keyMask, int rows, int seqLen, double lr) {
        NDManager m = model.manager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double loss;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray lossArr = loss(model, m, windows, weights, keyMask, rows, seqLen, true);
                gc.backward(lossArr);
                loss = lossArr.getFloat();
            }
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("training diverged: loss is " + loss + " (lower the learning rate)");
            }
            double norm = AdamW.clipGradients(model.trainableParameters(), maxGradNorm);
            optimizer.step(model.trainableParameters(), lr);
            return new Result(loss, norm);
        }
    }

    /** Mean next-token loss over the windows, without gradients or dropout. */
    public static double evaluate(Decoder model, long[] windows, int rows, int seqLen) {
        return evaluate(model, windows, null, null, rows, seqLen);
    }

    /** Mean loss over the weighted targets, without gradients or dropout. */
    public static double evaluate(
            Decoder model, long[] windows, float[] weights, long[] keyMask, int rows, int seqLen) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return loss(model, model.manager(), windows, weights, keyMask, rows, seqLen, false)
                    .getFloat();
        }
    }

    private static NDArray loss(
            Decoder model,
            NDManager m,
            long[] windows,
            float[] weights,
            long[] keyMask,
            int rows,
            int seqLen,
            boolean training) {
        NDArray all = Owned.copy(m.create(windows, new Shape(rows, seqLen + 1)));
        NDArray inputs = all.get(new NDIndex(":, :-1"));
        NDArray targets = all.get(new NDIndex(":, 1:"));
        NDArray positions = m.arange(0, seqLen, 1, ai.djl.ndarray.types.DataType.INT64)
                .reshape(1, seqLen)
                .repeat(0, rows);
        NDArray mask = keyMask == null ? null : Owned.copy(m.create(keyMask, new Shape(rows, seqLen)));
        NDArray logits = model.forward(inputs, positions, mask, null, training);
        NDArray w = weights == null ? null : Owned.copy(m.create(weights, new Shape(rows, seqLen)));
        return LanguageModelLoss.crossEntropy(logits, targets, w);
    }
}
