package io.rlhf4j.trainer.rloo;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import io.rlhf4j.trainer.optim.FlatOptimizerJson;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.optim.OptimizerSettings;
import java.util.function.Consumer;

/**
 * RLOO's hyper-parameters (Ahmadian et al. 2024): {@code k} samples per prompt, each one's baseline the
 * mean reward of the other {@code k - 1}; the reward is the reward model's score minus {@code beta}
 * times the completion's summed log-ratio against SFT; {@code gamma} weighs the pretraining term as in
 * PPO-ptx. One on-policy update per iteration, at a constant learning rate, as PPO's.
 */
@JsonDeserialize(builder = RlooConfig.Builder.class)
@JsonPropertyOrder({
    "iterations",
    "prompts_per_iteration",
    "k",
    "max_new_tokens",
    "beta",
    "gamma",
    "ptx_batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "seed"
})
public record RlooConfig(
        @JsonProperty("iterations") int iterations,
        @JsonProperty("prompts_per_iteration") int promptsPerIteration,
        @JsonProperty("k") int k,
        @JsonProperty("max_new_tokens") int maxNewTokens,
        @JsonProperty("beta") double beta,
        @JsonProperty("gamma") double gamma,
        @JsonProperty("ptx_batch_size") int ptxBatchSize,
        @JsonIgnore OptimizerConfig optimizer,
        @JsonProperty("seed") long seed)
        implements FlatOptimizerJson {

    public RlooConfig {
        if (iterations < 1 || promptsPerIteration < 1 || maxNewTokens < 1 || ptxBatchSize < 1) {
            throw new IllegalArgumentException(
                    "iterations, prompts_per_iteration, max_new_tokens and ptx_batch_size must be positive");
        }
        if (k < 2) {
            throw new IllegalArgumentException(
                    "RLOO needs k >= 2 samples per prompt (the baseline is the others'), got " + k);
        }
        if (!(optimizer.lr() > 0) || !(beta >= 0) || !(gamma >= 0) || optimizer.weightDecay() < 0) {
            throw new IllegalArgumentException("invalid RLOO coefficients: need lr > 0, beta >= 0, gamma >= 0");
        }
    }

    public static RlooConfig defaults() {
        return new Builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.k(8))}. */
    public RlooConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .iterations(iterations)
                .promptsPerIteration(promptsPerIteration)
                .k(k)
                .maxNewTokens(maxNewTokens)
                .beta(beta)
                .gamma(gamma)
                .ptxBatchSize(ptxBatchSize)
                .optimizer(optimizer)
                .seed(seed);
    }

    /** Settings by name; starts from the defaults. Jackson reads the flat JSON through it. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends OptimizerSettings<Builder> {
        private Builder() {
            super(OptimizerConfig.adamW(1e-5, 0.0, 1.0));
        }

        private int iterations = 20;
        private int promptsPerIteration = 4;
        private int k = 4;
        private int maxNewTokens = 24;
        private double beta = 0.05;
        private double gamma = 0.0;
        private int ptxBatchSize = 8;
        private long seed = 1234;

        @JsonProperty("iterations")
        public Builder iterations(int v) {
            iterations = v;
            return this;
        }

        @JsonProperty("prompts_per_iteration")
        public Builder promptsPerIteration(int v) {
            promptsPerIteration = v;
            return this;
        }

        @JsonProperty("k")
        public Builder k(int v) {
            k = v;
            return this;
        }

        @JsonProperty("max_new_tokens")
        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
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

        @JsonProperty("seed")
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public RlooConfig build() {
            return new RlooConfig(
                    iterations, promptsPerIteration, k, maxNewTokens, beta, gamma, ptxBatchSize, optimizer, seed);
        }
    }
}
