package io.rlhf4j.trainer.dpo;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import io.rlhf4j.trainer.optim.FlatOptimizerJson;
import io.rlhf4j.trainer.optim.LearningRate;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.optim.OptimizerSettings;
import java.util.function.Consumer;

/**
 * DPO's hyper-parameters: {@code beta} scales the implicit reward {@code beta * log(pi / pi_SFT)} (the
 * strength of the KL leash, as in Rafailov et al.), {@code gamma} weighs the pretraining term as in
 * PPO-ptx ({@code 0}: plain DPO). A batch element is one ranking with all its C(K,2) pairs, as for the
 * reward model.
 */
@JsonDeserialize(builder = DpoConfig.Builder.class)
@JsonPropertyOrder({
    "epochs",
    "rankings_per_step",
    "beta",
    "gamma",
    "ptx_batch_size",
    "lr",
    "min_lr",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "eval_every",
    "seed"
})
public record DpoConfig(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("rankings_per_step") int rankingsPerStep,
        @JsonProperty("beta") double beta,
        @JsonProperty("gamma") double gamma,
        @JsonProperty("ptx_batch_size") int ptxBatchSize,
        @JsonIgnore OptimizerConfig optimizer,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("seed") long seed)
        implements FlatOptimizerJson {

    public DpoConfig {
        if (epochs < 1 || rankingsPerStep < 1 || evalEvery < 1 || ptxBatchSize < 1) {
            throw new IllegalArgumentException(
                    "epochs, rankings_per_step, ptx_batch_size and eval_every must be positive");
        }
        if (!(beta > 0) || !(gamma >= 0)) {
            throw new IllegalArgumentException("DPO needs beta > 0 and gamma >= 0, got " + beta + " and " + gamma);
        }
        double lr = optimizer.lr();
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr || warmupSteps < 0 || optimizer.weightDecay() < 0) {
            throw new IllegalArgumentException("invalid learning rate, warm-up or weight decay");
        }
    }

    public static DpoConfig defaults() {
        return new Builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.beta(0.5))}. */
    public DpoConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .epochs(epochs)
                .rankingsPerStep(rankingsPerStep)
                .beta(beta)
                .gamma(gamma)
                .ptxBatchSize(ptxBatchSize)
                .optimizer(optimizer)
                .minLr(minLr)
                .warmupSteps(warmupSteps)
                .evalEvery(evalEvery)
                .seed(seed);
    }

    /** Linear warm-up to the optimizer's {@code lr}, then cosine decay to {@code min_lr} at the last step. */
    public double learningRate(int step, int steps) {
        return LearningRate.warmupCosine(step, steps, warmupSteps, optimizer.lr(), minLr);
    }

    /** Settings by name; starts from the defaults. Jackson reads the flat JSON through it. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends OptimizerSettings<Builder> {
        private Builder() {
            super(OptimizerConfig.adamW(1e-5, 0.0, 1.0));
        }

        private int epochs = 1;
        private int rankingsPerStep = 8;
        private double beta = 0.1;
        private double gamma = 0.0;
        private int ptxBatchSize = 8;
        private double minLr = 1e-6;
        private int warmupSteps = 10;
        private int evalEvery = 50;
        private long seed = 1234;

        @JsonProperty("epochs")
        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        @JsonProperty("rankings_per_step")
        public Builder rankingsPerStep(int v) {
            rankingsPerStep = v;
            return this;
        }

        @JsonProperty("beta")
        public Builder beta(double v) {
            beta = v;
            return this;
        }

        @JsonProperty("gamma")
        public Builder gamma(double v) {
            gamma = v;
            return this;
        }

        @JsonProperty("ptx_batch_size")
        public Builder ptxBatchSize(int v) {
            ptxBatchSize = v;
            return this;
        }

        @JsonProperty("min_lr")
        public Builder minLr(double v) {
            minLr = v;
            return this;
        }

        @JsonProperty("warmup_steps")
        public Builder warmupSteps(int v) {
            warmupSteps = v;
            return this;
        }

        @JsonProperty("eval_every")
        public Builder evalEvery(int v) {
            evalEvery = v;
            return this;
        }

        @JsonProperty("seed")
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public DpoConfig build() {
            return new DpoConfig(
                    epochs, rankingsPerStep, beta, gamma, ptxBatchSize, optimizer, minLr, warmupSteps, evalEvery, seed);
        }
    }
}
