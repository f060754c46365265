package io.rlhf4j.trainer.rm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The reward model: the decoder's trunk (no unembedding) and a scalar head read at each sequence's
 * last real token. Stored as HF's sequence-classification layout: the trunk's tensors plus
 * {@code score.weight} [1, hidden] and, here, {@code score.bias} [1], the shift that centres
 * labelers' demonstrations on zero.
 */
public final class RewardModel implements AutoCloseable {

    public static final String HEAD_WEIGHT = "score.weight";
    public static final String HEAD_BIAS = "score.bias";

    private final Decoder trunk;
    private final NDArray weight;
    private final NDArray bias;

    private RewardModel(Decoder trunk, NDArray weight, NDArray bias) {
        this.trunk = trunk;
        this.weight = weight;
        this.bias = bias;
    }

    public static RewardModel load(Path dir, NDManager parent) throws IOException {
        Map<String, Tensor> tensors = Checkpoint.readWeights(dir);
        Tensor w = tensors.get(HEAD_WEIGHT);
        if (w == null) {
            throw new CheckpointFormatException(dir + ": not a reward model (tensor '" + HEAD_WEIGHT + "' is missing)");
        }
        Decoder trunk = Decoder.fromTensors(Checkpoint.readConfig(dir), tensors, parent, dir.toString());
        long d = trunk.config().hiddenSize();
        if (!Arrays.equals(w.shape(), new long[] {1, d})) {
            trunk.close();
            throw new CheckpointFormatException(dir + ": tensor '" + HEAD_WEIGHT + "' has shape "
                    + Arrays.toString(w.shape()) + ", expected [1, " + d + "]");
        }
        Tensor b = tensors.get(HEAD_BIAS);
        NDManager m = trunk.manager();
        return new RewardModel(trunk, m.create(w.data(), new Shape(w.shape())),
                m.create(b == null ? new float[] {0f} : b.data(), new Shape(1)));
    }

    /** A fresh head (N(0, 1/D) weights, zero bias) on a trunk: how reward-model training starts from SFT. */
    public static RewardModel initialise(Decoder trunk, long seed) {
        int d = trunk.config().hiddenSize();
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        float[] w = new float[d];
        for (int i = 0; i < d; i++) {
            double u1 = rng.nextDouble();
            double u2 = rng.nextDouble();
            w[i] = (float) (Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2) / Math.sqrt(d));
        }
        NDManager m = trunk.manager();
        return new RewardModel(trunk, m.create(w, new Shape(1, d)), m.create(new float[] {0f}, new Shape(1)));
    }

    public Decoder trunk() {
        return trunk;
    }

    /** Every trainable array: the trunk's and the head's. */
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> all = new java.util.LinkedHashMap<>(trunk.parameters());
        all.put(HEAD_WEIGHT, weight);
        all.put(HEAD_BIAS, bias);
        return all;
    }

    public void requireGradients() {
        trunk.requireGradients();
        weight.setRequiresGradient(true);
        bias.setRequiresGradient(true);
    }

    /** The checkpoint tensors: the trunk's (HF names) and the head. */
    public java.util.List<Tensor> toTensors() {
        java.util.List<Tensor> out = new java.util.ArrayList<>(trunk.toTensors());
        out.add(new Tensor(HEAD_WEIGHT, weight.getShape().getShape(), weight.toFloatArray()));
        out.add(new Tensor(HEAD_BIAS, new long[] {1}, bias.toFloatArray()));
        return out;
    }

    /** Overwrites trunk and head in place (resume). */
    public void load(Map<String, Tensor> tensors) {
        trunk.load(tensors);
        Decoder.copyInto(weight, tensors.get(HEAD_WEIGHT).data());
        Decoder.copyInto(bias, tensors.get(HEAD_BIAS).data());
    }

    /** Moves the bias by {@code delta} (used to centre demonstrations' rewards on zero). */
    public void shiftBias(float delta) {
        Decoder.copyInto(bias, new float[] {bias.toFloatArray()[0] + delta});
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
        NDArray pick = ids.getManager().create(last, new Shape(b, t, 1));
        NDArray h = hidden.mul(pick).sum(new int[] {1});
        return h.matMul(weight.transpose()).add(bias).reshape(b);
    }

    /**
     * The rewards of whole sequences (prompt, completion, EOS), each cut to the context window, in one
     * right-padded forward without keeping anything: what evaluation, selection and judging need.
     */
    public float[] scores(java.util.List<int[]> sequences) {
        int window = trunk.config().maxPositions();
        java.util.List<int[]> cut = sequences.stream()
                .map(s -> s.length > window ? java.util.Arrays.copyOf(s, window) : s).toList();
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            io.rlhf4j.trainer.data.PaddedBatch b = io.rlhf4j.trainer.data.PaddedBatch.of(cut, trunk.manager());
            return rewards(b.ids(), b.positions(), b.mask()).toFloatArray();
        }
    }

    /**
     * The head at every position: [B, T]. As PPO's value function (initialised from the reward model),
     * position t's value estimates the return from the state after token t.
     */
    public NDArray values(NDArray ids, NDArray positions, NDArray keyMask) {
        NDArray hidden = trunk.hidden(ids, positions, keyMask, null, false);
        long b = ids.getShape().get(0);
        long t = ids.getShape().get(1);
        return hidden.matMul(weight.transpose()).add(bias).reshape(b, t);
    }

    @Override
    public void close() {
        trunk.close();
    }
}
