package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * PPO's critic. InstructGPT initialises it from the reward model, so it is the same network (trunk and
 * scalar head), read at every position instead of the last: position t's value estimates the return
 * from the state after token t. A type of its own so that the critic, which PPO trains, is never
 * mistaken for the frozen reward model that scores rollouts.
 */
public final class ValueModel implements AutoCloseable {

    private final RewardModel network;

    private ValueModel(RewardModel network) {
        this.network = network;
    }

    /** A critic initialised from the reward model in {@code dir}. */
    public static ValueModel fromRewardModel(Path dir, NDManager parent) throws IOException {
        return new ValueModel(RewardModel.load(dir, parent));
    }

    /** Values [B, T] for {@code ids} [B, T], one per position. */
    public NDArray values(NDArray ids, NDArray positions, NDArray keyMask) {
        NDArray hidden = network.trunk().hidden(ids, positions, keyMask, null, false);
        long b = ids.getShape().get(0);
        long t = ids.getShape().get(1);
        return network.head().apply(hidden).reshape(b, t);
    }

    public Map<String, NDArray> parameters() {
        return network.parameters();
    }

    public void requireGradients() {
        network.requireGradients();
    }

    public List<Tensor> toTensors() {
        return network.toTensors();
    }

    /** Overwrites trunk and head in place (resume). */
    public void load(Map<String, Tensor> tensors) {
        network.load(tensors);
    }

    @Override
    public void close() {
        network.close();
    }
}
