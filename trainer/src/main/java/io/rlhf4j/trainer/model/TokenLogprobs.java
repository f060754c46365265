package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.trainer.data.PaddedBatch;

/**
 * A model's log-probability of each token of right-padded sequences given the tokens before it: what
 * PPO's ratio, RLOO's REINFORCE term and DPO's implicit reward are made of.
 */
public final class TokenLogprobs {

    private TokenLogprobs() {}

    /** Log-probability of each next token: [B, W-1]; column {@code p - 1} holds token {@code p}'s. */
    public static NDArray of(Decoder model, PaddedBatch b) {
        return ofLogits(
                model.forward(
                        b.ids().get(new NDIndex(":, :-1")),
                        b.positions().get(new NDIndex(":, :-1")),
                        b.mask().get(new NDIndex(":, :-1")),
                        null,
                        false),
                b);
    }

    /** As {@link #of} from logits the caller already has, [B, W-1, V]. */
    public static NDArray ofLogits(NDArray logits, PaddedBatch b) {
        return logits.logSoftmax(-1)
                .gather(b.ids().get(new NDIndex(":, 1:")).expandDims(-1), -1)
                .squeeze(-1);
    }

    /**
     * The [B, W-1] float mask that selects completion tokens: row r's tokens from {@code promptLengths[r]}
     * up to {@code lengths[r]}, at the columns {@link #of} puts them in.
     */
    public static NDArray completionMask(NDArray like, int[] promptLengths, int[] lengths) {
        int w = (int) like.getShape().get(1);
        float[] mask = new float[promptLengths.length * w];
        for (int r = 0; r < promptLengths.length; r++) {
            for (int p = promptLengths[r]; p < lengths[r]; p++) {
                mask[r * w + p - 1] = 1f;
            }
        }
        return Owned.copy(like.getManager().create(mask, new Shape(promptLengths.length, w)));
    }

    /** Each row's summed log-probability of its completion tokens: [B]. */
    public static NDArray completionSums(NDArray tokenLogprobs, int[] promptLengths, int[] lengths) {
        return tokenLogprobs
                .mul(completionMask(tokenLogprobs, promptLengths, lengths))
                .sum(new int[] {1});
    }
}
