package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.lora.FineTune;
import io.rlhf4j.trainer.lora.PeftAdapter;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.rm.ScalarHead;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * PPO's four models. In full fine-tuning each is a copy of its own: policy and reference from SFT, reward
 * model and critic from the reward model. Under LoRA one frozen SFT base is held: it is the reference
 * itself, the policy is base + policy adapter, and a reward model trained with LoRA on this same SFT
 * (its adapter records the base's digest) is base + its adapter + score head; the critic is the reward
 * model's frozen trunk (the shared base, or a separately loaded reward model when its base differs) with
 * an adapter that starts as the reward model's, or fresh, and a copy of its head. Optimizer state then
 * exists only for adapters and heads.
 */
public final class PpoModels implements AutoCloseable {

    private final FineTune policy;
    private final Decoder reference;
    private final RewardModel reward;
    private final ValueModel value;
    private final boolean sharedRewardBase;

    private PpoModels(
            FineTune policy, Decoder reference, RewardModel reward, ValueModel value, boolean sharedRewardBase) {
        this.policy = policy;
        this.reference = reference;
        this.reward = reward;
        this.value = value;
        this.sharedRewardBase = sharedRewardBase;
    }

    /**
     * Loads the models for a run from {@code sft} against {@code rewardModel}; {@code lora} null means
     * full fine-tuning of policy and critic.
     */
    public static PpoModels load(
            Path sft, Path rewardModel, ModelConfig policyConfig, LoraConfig lora, long seed, NDManager manager)
            throws IOException {
        Decoder reference = Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
        if (lora == null) {
            Decoder trained = Decoder.fromTensors(policyConfig, Checkpoint.readWeights(sft), manager, sft.toString());
            return new PpoModels(
                    FineTune.of(null, trained, seed, sft, manager),
                    reference,
                    RewardModel.load(rewardModel, manager),
                    ValueModel.fromRewardModel(rewardModel, manager),
                    false);
        }
        FineTune policy = FineTune.of(lora, reference, seed, sft, manager);
        Map<String, Tensor> rmTensors = Checkpoint.readWeights(rewardModel);
        ScalarHead.requireIn(rmTensors, rewardModel.toString());
        boolean shared = sharesBase(sft, rewardModel, lora);
        PeftAdapter rmAdapter = shared ? PeftAdapter.read(rewardModel) : null;
        RewardModel reward;
        LoraAdapter valueAdapter;
        if (shared) {
            reward = new RewardModel(
                    reference.view(
                            LoraAdapter.fromTensors(rmAdapter.config(), rmAdapter.tensors(), reference, manager)),
                    ScalarHead.from(rmTensors, reference, rewardModel.toString()));
            valueAdapter = LoraAdapter.fromTensors(rmAdapter.config(), rmAdapter.tensors(), reference, manager);
        } else {
            // The reward model's merged trunk stays frozen and carries the critic's adapter too.
            reward = RewardModel.load(rewardModel, manager);
            reward.trunk().freeze(lora.basePrecision());
            valueAdapter = LoraAdapter.initialise(lora, reward.trunk(), seed + 1, manager);
        }
        Decoder criticBase = shared ? reference : reward.trunk();
        ValueModel value = new ValueModel(
                new RewardModel(criticBase.view(valueAdapter), reward.head().copy()));
        return new PpoModels(policy, reference, reward, value, shared);
    }

    /**
     * Whether, under {@code lora}, the reward model in {@code rewardModel} is an adapter that PPO can put
     * on the SFT base it holds anyway: it was trained with LoRA on exactly these weights.
     */
    public static boolean sharesBase(Path sft, Path rewardModel, LoraConfig lora) throws IOException {
        return lora != null
                && PeftAdapter.in(rewardModel)
                && Checkpoint.weightsSha256(sft)
                        .equals(PeftAdapter.read(rewardModel).baseWeightsSha256());
    }

    public FineTune policy() {
        return policy;
    }

    /** The SFT weights, frozen: the KL penalty's reference (under LoRA, the shared base itself). */
    public Decoder reference() {
        return reference;
    }

    public RewardModel reward() {
        return reward;
    }

    public ValueModel value() {
        return value;
    }

    /** Whether the reward model is an adapter on the policy's own base (one copy of the weights in all). */
    public boolean sharedRewardBase() {
        return sharedRewardBase;
    }

    @Override
    public void close() {
        value.close();
        reward.close();
        policy.model().close();
        reference.close();
    }
}
