package io.rlhf4j.trainer.rm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.Owned;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The linear map from a trunk's hidden state to one number, stored as HF's sequence-classification head
 * ({@code score.weight} [1, D]) plus {@code score.bias} [1]. The reward model reads it at a sequence's
 * last real token; PPO's value function, which starts as a copy of the reward model, reads it at every
 * position.
 */
public final class ScalarHead {

    public static final String WEIGHT = "score.weight";
    public static final String BIAS = "score.bias";

    private final NDArray weight;
    private final NDArray bias;

    private ScalarHead(NDArray weight, NDArray bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /**
     * The head in {@code tensors}, checked against {@code trunk}'s width; a checkpoint without
     * {@code score.bias} has bias 0.
     */
    public static ScalarHead from(Map<String, Tensor> tensors, Decoder trunk, String source) {
        requireIn(tensors, source);
        Tensor w = tensors.get(WEIGHT);
        long d = trunk.config().hiddenSize();
        if (!Arrays.equals(w.shape(), new long[] {1, d})) {
            throw new CheckpointFormatException(source + ": tensor '" + WEIGHT + "' has shape "
                    + Arrays.toString(w.shape()) + ", expected [1, " + d + "]");
        }
        Tensor b = tensors.get(BIAS);
        NDManager m = trunk.manager();
        return new ScalarHead(
                Owned.copy(m.create(w.data(), new Shape(w.shape()))),
                Owned.copy(m.create(b == null ? new float[] {0f} : b.data(), new Shape(1))));
    }

    /** Refuses checkpoints without a head: a policy passed as a reward model is the usual mistake. */
    public static void requireIn(Map<String, Tensor> tensors, String source) {
        if (!tensors.containsKey(WEIGHT)) {
            throw new CheckpointFormatException(source + ": not a reward model (tensor '" + WEIGHT + "' is missing)");
        }
    }

    /** A fresh head: N(0, 1/D) weights, zero bias. */
    public static ScalarHead initialise(Decoder trunk, long seed) {
        int d = trunk.config().hiddenSize();
        SplittableRandom rng = new SplittableRandom(seed);
        float[] w = new float[d];
        for (int i = 0; i < d; i++) {
            double u1 = rng.nextDouble();
            double u2 = rng.nextDouble();
            w[i] = (float) (Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2) / Math.sqrt(d));
        }
        NDManager m = trunk.manager();
        return new ScalarHead(
                Owned.copy(m.create(w, new Shape(1, d))), Owned.copy(m.create(new float[] {0f}, new Shape(1))));
    }

    /** {@code hidden} [..., D] to [..., 1]. */
    public NDArray apply(NDArray hidden) {
        return hidden.matMul(weight.transpose()).add(bias);
    }

    /** The trunk's trainable arrays (its adapter's, when one is attached) followed by the head's. */
    public Map<String, NDArray> parametersWith(Decoder trunk) {
        Map<String, NDArray> all = new LinkedHashMap<>(trunk.trainableParameters());
        all.put(WEIGHT, weight);
        all.put(BIAS, bias);
        return all;
    }

    public void requireGradients() {
        weight.setRequiresGradient(true);
        bias.setRequiresGradient(true);
    }

    /** The trunk's checkpoint tensors followed by the head's. */
    public List<Tensor> tensorsWith(Decoder trunk) {
        List<Tensor> out = new ArrayList<>(trunk.toTensors());
        out.addAll(toTensors());
        return out;
    }

    /** The head's own two tensors. */
    public List<Tensor> toTensors() {
        return List.of(
                new Tensor(WEIGHT, weight.getShape().getShape(), weight.toFloatArray()),
                new Tensor(BIAS, new long[] {1}, bias.toFloatArray()));
    }

    /** An independent copy (PPO's critic starts as the reward model's head and then trains apart from it). */
    public ScalarHead copy() {
        return new ScalarHead(weight.duplicate(), bias.duplicate());
    }

    /** Overwrites the head in place from a checkpoint's tensors (resume). */
    public void load(Map<String, Tensor> tensors) {
        Owned.overwrite(weight, tensors.get(WEIGHT).data());
        Owned.overwrite(bias, tensors.get(BIAS).data());
    }

    public void shiftBias(float delta) {
        Owned.overwrite(bias, new float[] {bias.toFloatArray()[0] + delta});
    }
}
