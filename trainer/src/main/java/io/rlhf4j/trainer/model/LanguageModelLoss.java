package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;

/** Next-token cross-entropy, averaged over the positions a mask selects. */
public final class LanguageModelLoss {

    private LanguageModelLoss() {}

    /**
     * @param logits [B, T, V]
     * @param targets [B, T] int64, the token that follows each position
     * @param weights [B, T] float, 1 where the position counts (completion tokens, real tokens), 0 else;
     *     null to count every position
     */
    public static NDArray crossEntropy(NDArray logits, NDArray targets, NDArray weights) {
        NDArray logp = logits.logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1);
        if (weights == null) {
            return logp.mean().neg();
        }
        return logp.mul(weights).sum().div(weights.sum().maximum(1f)).neg();
    }
}
