package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.data.TokenStream;

/**
 * The "ptx" of PPO-ptx (InstructGPT eq. 2), which DPO and RLOO can add too: the policy's mean negative
 * log-likelihood of a batch of pretraining windows, which a stage adds to its loss times {@code gamma}
 * so that aligning costs less of what pretraining taught (the alignment tax).
 */
public final class PretrainingMix {

    private static final int WINDOW = 64;

    private final TokenStream text;
    private final long seed;
    private final int batchSize;

    /**
     * The term a stage with weight {@code gamma} adds: none when {@code gamma} is 0, and refused when it
     * is positive without {@code text}. Every stage draws its windows with {@code seed + 17}.
     *
     * @param stage the stage's name, for the refusal
     */
    public static PretrainingMix of(double gamma, TokenStream text, long seed, int batchSize, String stage) {
        if (gamma <= 0) {
            return null;
        }
        if (text == null) {
            throw new IllegalArgumentException(
                    "gamma > 0 (" + stage + " with the pretraining term) needs pretraining " + "text");
        }
        return new PretrainingMix(text, seed + 17, batchSize);
    }

    /** @param seed with the step, chooses the windows: a resumed run draws the same ones */
    public PretrainingMix(TokenStream text, long seed, int batchSize) {
        this.text = text;
        this.seed = seed;
        this.batchSize = batchSize;
    }

    public int batchSize() {
        return batchSize;
    }

    /** The length of the pretraining windows for a model of {@code config}. */
    public static int window(ModelConfig config) {
        return Math.min(config.maxPositions() - 1, WINDOW);
    }

    /** The policy's mean next-token NLL over the windows drawn for {@code step} (differentiable). */
    public NDArray loss(Decoder policy, long step) {
        NDManager m = policy.manager();
        int seq = window(policy.config());
        long[] windows = text.randomBatch(seed, step, batchSize, seq);
        NDArray all = Owned.copy(m.create(windows, new Shape(batchSize, seq + 1)));
        NDArray positions = m.arange(0, seq, 1, DataType.INT64).reshape(1, seq).repeat(0, batchSize);
        NDArray logits = policy.forward(all.get(new NDIndex(":, :-1")), positions, null, null, false);
        return LanguageModelLoss.crossEntropy(logits, all.get(new NDIndex(":, 1:")), null);
    }
}
