package io.rlhf4j.trainer.rm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.Owned;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The reward model: the decoder's trunk (no unembedding) and a {@link ScalarHead} read at each
 * sequence's last real token. Stored as HF's sequence-classification layout: the trunk's tensors plus
 * {@code score.weight} [1, hidden] and, here, {@code score.bias} [1], the shift that centres
 * labelers' demonstrations on zero.
 */
public final class RewardModel implements AutoCloseable {

    public static final String HEAD_WEIGHT = ScalarHead.WEIGHT;
    public static final String HEAD_BIAS = ScalarHead.BIAS;

    private final Decoder trunk;
    private final ScalarHead head;

    public RewardModel(Decoder trunk, ScalarHead head) {
        this.trunk = trunk;
        this.head = head;
    }

    public static RewardModel load(Path dir, NDManager parent) throws IOException {
        Map<String, Tensor> tensors = Checkpoint.readWeights(dir);
        ScalarHead.requireIn(tensors, dir.toString());
        Decoder trunk = Decoder.fromTensors(Checkpoint.readConfig(dir), tensors, parent, dir.toString());
        try {
            return new RewardModel(trunk, ScalarHead.from(tensors, trunk, dir.toString()));
        } catch (RuntimeException e) {
            trunk.close();
            throw e;
        }
    }

    /**
     * Refuses a reward model whose tokenizer is not the policy's: it could not score the policy's tokens.
     * What the RL stages check before loading anything.
     */
    public static void requireTokenizerOf(Path policy, Path rewardModel) throws IOException {
        if (!Checkpoint.sameTokenizer(policy, rewardModel)) {
            throw new IllegalArgumentException(rewardModel + ": its tokenizer differs from the policy's (" + policy
                    + "); train the reward model from this SFT checkpoint");
        }
    }

    /** A fresh head on a trunk: how reward-model training starts from SFT. */
    public static RewardModel initialise(Decoder trunk, long seed) {
        return new RewardModel(trunk, ScalarHead.initialise(trunk, seed));
    }

    public Decoder trunk() {
        return trunk;
    }

    public ScalarHead head() {
        return head;
    }

    /** Every trainable array: the trunk's and the head's. */
    public Map<String, NDArray> parameters() {
        return head.parametersWith(trunk);
    }

    public void requireGradients() {
        trunk.requireGradients();
        head.requireGradients();
    }

    /** The checkpoint tensors: the trunk's (HF names) and the head. */
    public List<Tensor> toTensors() {
        return head.tensorsWith(trunk);
    }

    /** Overwrites trunk and head in place (resume). */
    public void load(Map<String, Tensor> tensors) {
        trunk.load(tensors);
        head.load(tensors);
    }

    /** Moves the bias by {@code delta} (used to centre demonstrations' rewards on zero). */
    public void shiftBias(float delta) {
        head.shiftBias(delta);
    }

    /**
     * Rewards [B] for {@code ids} [B, T] with {@code keyMask} [B, T] (1 real, 0 padding, on either
     * side), read at each row's last real position.
     */
    public NDArray rewards(NDArray ids, NDArray positions, NDArray keyMask) {
        long[] mask = keyMask.toLongArray();
        int b = (int) ids.getShape().get(0);
        int t = (int) ids.getShape().get(1);
        float[] last = new float[b * t];
        for (int r = 0; r < b; r++) {
            int at = -1;
            for (int j = 0; j < t; j++) {
                if (mask[r * t + j] != 0) {
                    at = j;
                }
            }
            if (at < 0) {
                throw new IllegalArgumentException("row " + r + " has no real token");
            }
            last[r * t + at] = 1f;
        }
        NDArray hidden = trunk.hidden(ids, positions, keyMask, null, false);
        NDArray pick = Owned.copy(ids.getManager().create(last, new Shape(b, t, 1)));
        NDArray h = hidden.mul(pick).sum(new int[] {1});
        return head.apply(h).reshape(b);
    }

    /**
     * The rewards of whole sequences (prompt, completion, EOS), each cut to the context window, in one
     * right-padded forward without keeping anything: what evaluation, selection and judging need.
     */
    public float[] scores(List<int[]> sequences) {
        int window = trunk.config().maxPositions();
        List<int[]> cut = sequences.stream()
                .map(s -> s.length > window ? Arrays.copyOf(s, window) : s)
                .toList();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            PaddedBatch b = PaddedBatch.of(cut, trunk.manager());
            return rewards(b.ids(), b.positions(), b.mask()).toFloatArray();
        }
    }

    @Override
    public void close() {
        trunk.close();
    }
}
