package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * PPO's critic. InstructGPT initialises it from the reward model, so it is the same network (trunk and
 * scalar head), read at every position instead of the last: position t's value estimates the return
 * from the state after token t. A type of its own so that the critic, which PPO trains, is never
 * mistaken for the frozen reward model that scores rollouts. Under LoRA its trunk is a view of a
 * frozen base with an adapter of its own, and only adapter and head are trained and saved.
 */
public final class ValueModel implements AutoCloseable {

    private final RewardModel network;

    ValueModel(RewardModel network) {
        this.network = network;
    }

    /** A critic initialised from the reward model in {@code dir}: a full copy that trains every weight. */
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

    /** What trains: every array, or the adapter's and the head's. */
    public Map<String, NDArray> parameters() {
        return network.parameters();
    }

    public void requireGradients() {
        network.requireGradients();
    }

    /** The critic's checkpoint: trunk and head, or under LoRA the adapter (PEFT names) and the head. */
    public List<Tensor> toTensors() {
        LoraAdapter adapter = network.trunk().adapter();
        if (adapter == null) {
            return network.toTensors();
        }
        List<Tensor> out = new ArrayList<>(adapter.toTensors());
        out.addAll(network.head().toTensors());
        return out;
    }

    /** Overwrites what {@link #toTensors} saved, in place (resume). */
    public void load(Map<String, Tensor> tensors) {
        LoraAdapter adapter = network.trunk().adapter();
        if (adapter == null) {
            network.load(tensors);
        } else {
            adapter.load(tensors);
            network.head().load(tensors);
        }
    }

    @Override
    public void close() {
        network.close();
    }
}
