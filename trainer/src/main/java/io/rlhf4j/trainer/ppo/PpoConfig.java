package io.rlhf4j.trainer.ppo;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.optim.OptimizerSettings;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * PPO-ptx hyper-parameters, named as in the paper where it names them: {@code beta} the KL coefficient
 * (fixed, or adapted towards {@code klTarget} when that is positive), {@code gamma} the weight of the
 * pretraining log-likelihood ({@code gamma = 0} is plain PPO). The RL discount and GAE's lambda are
 * {@code discount} and {@code lambda}. Policy and value function have optimizers of their own that
 * differ only in the learning rate, which is all the flat JSON ({@code lr}, {@code value_lr},
 * {@code grad_clip}) can say about them.
 */
@JsonDeserialize(builder = PpoConfig.Builder.class)
@JsonPropertyOrder({
    "iterations",
    "rollouts_per_iteration",
    "max_new_tokens",
    "ppo_epochs",
    "minibatch_size",
    "lr",
    "value_lr",
    "beta",
    "kl_target",
    "gamma",
    "ptx_batch_size",
    "discount",
    "lambda",
    "clip_range",
    "value_clip_range",
    "grad_clip",
    "seed"
})
public record PpoConfig(
        @JsonProperty("iterations") int iterations,
        @JsonProperty("rollouts_per_iteration") int rolloutsPerIteration,
        @JsonProperty("max_new_tokens") int maxNewTokens,
        @JsonProperty("ppo_epochs") int ppoEpochs,
        @JsonProperty("minibatch_size") int minibatchSize,
        @JsonIgnore OptimizerConfig policyOptimizer,
        @JsonIgnore OptimizerConfig valueOptimizer,
        @JsonProperty("beta") double beta,
        @JsonProperty("kl_target") double klTarget,
        @JsonProperty("gamma") double gamma,
        @JsonProperty("ptx_batch_size") int ptxBatchSize,
        @JsonProperty("discount") double discount,
        @JsonProperty("lambda") double lambda,
        @JsonProperty("clip_range") double clipRange,
        @JsonProperty("value_clip_range") double valueClipRange,
        @JsonProperty("seed") long seed) {

    private static final String WEIGHT_DECAY = "weight_decay";

    public PpoConfig {
        if (iterations < 1 || rolloutsPerIteration < 1 || maxNewTokens < 1 || ppoEpochs < 1 || minibatchSize < 1) {
            throw new IllegalArgumentException(
                    "iterations, rollouts, max_new_tokens, ppo_epochs and minibatch_size " + "must be positive");
        }
        if (!(policyOptimizer.lr() > 0)
                || !(valueOptimizer.lr() > 0)
                || beta < 0
                || gamma < 0
                || klTarget < 0
                || clipRange <= 0
                || valueClipRange <= 0
                || !(discount > 0 && discount <= 1)
                || !(lambda >= 0 && lambda <= 1)) {
            throw new IllegalArgumentException("invalid PPO coefficients");
        }
        if (!valueOptimizer.equals(policyOptimizer.withLr(valueOptimizer.lr()))) {
            throw new IllegalArgumentException("the value function's optimizer may differ from the policy's only in "
                    + "its learning rate (value_lr)");
        }
    }

    public static PpoConfig defaults() {
        return new Builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.gamma(0))}. */
    public PpoConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .iterations(iterations)
                .rolloutsPerIteration(rolloutsPerIteration)
                .maxNewTokens(maxNewTokens)
                .ppoEpochs(ppoEpochs)
                .minibatchSize(minibatchSize)
                .optimizer(policyOptimizer)
                .valueLr(valueOptimizer.lr())
                .beta(beta)
                .klTarget(klTarget)
                .gamma(gamma)
                .ptxBatchSize(ptxBatchSize)
                .discount(discount)
                .lambda(lambda)
                .clipRange(clipRange)
                .valueClipRange(valueClipRange)
                .seed(seed);
    }

    @JsonProperty("lr")
    private double jsonLr() {
        return policyOptimizer.lr();
    }

    @JsonProperty("value_lr")
    private double jsonValueLr() {
        return valueOptimizer.lr();
    }

    @JsonProperty("grad_clip")
    private double jsonGradClip() {
        return policyOptimizer.gradClip();
    }

    // PPO has never written weight decay: it is 0 unless set in code, and only then on the wire.
    @JsonAnyGetter
    @SuppressWarnings("UnusedMethod") // Jackson calls it
    private Map<String, Double> jsonOptimizerExtras() {
        Map<String, Double> out = new LinkedHashMap<>(policyOptimizer.nonDefaultAdam());
        if (policyOptimizer.weightDecay() != 0) {
            out.put(WEIGHT_DECAY, policyOptimizer.weightDecay());
        }
        return out;
    }

    /** Settings by name; starts from the defaults. Jackson reads the flat JSON through it. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends OptimizerSettings<Builder> {
        private Builder() {
            super(OptimizerConfig.adamW(1e-5, 0.0, 1.0));
        }

        private int iterations = 20;
        private int rolloutsPerIteration = 16;
        private int maxNewTokens = 24;
        private int ppoEpochs = 2;
        private int minibatchSize = 8;
        private double valueLr = 1e-5;
        private double beta = 0.02;
        private double klTarget = 0.0;
        private double gamma = 0.0;
        private int ptxBatchSize = 8;
        private double discount = 1.0;
        private double lambda = 0.95;
        private double clipRange = 0.2;
        private double valueClipRange = 0.2;
        private long seed = 1234;

        @JsonProperty("iterations")
        public Builder iterations(int v) {
            iterations = v;
            return this;
        }

        @JsonProperty("rollouts_per_iteration")
        public Builder rolloutsPerIteration(int v) {
            rolloutsPerIteration = v;
            return this;
        }

        @JsonProperty("max_new_tokens")
        public Builder maxNewTokens(int v) {
            maxNewTokens = v;
            return this;
        }

        @JsonProperty("ppo_epochs")
        public Builder ppoEpochs(int v) {
            ppoEpochs = v;
            return this;
        }

        @JsonProperty("minibatch_size")
        public Builder minibatchSize(int v) {
            minibatchSize = v;
            return this;
        }

        @JsonProperty("value_lr")
        public Builder valueLr(double v) {
            valueLr = v;
            return this;
        }

        @JsonProperty("beta")
        public Builder beta(double v) {
            beta = v;
            return this;
        }

        @JsonProperty("kl_target")
        public Builder klTarget(double v) {
            klTarget = v;
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

        @JsonProperty("discount")
        public Builder discount(double v) {
            discount = v;
            return this;
        }

        @JsonProperty("lambda")
        public Builder lambda(double v) {
            lambda = v;
            return this;
        }

        @JsonProperty("clip_range")
        public Builder clipRange(double v) {
            clipRange = v;
            return this;
        }

        @JsonProperty("value_clip_range")
        public Builder valueClipRange(double v) {
            valueClipRange = v;
            return this;
        }

        @JsonProperty("seed")
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public PpoConfig build() {
            return new PpoConfig(
                    iterations,
                    rolloutsPerIteration,
                    maxNewTokens,
                    ppoEpochs,
                    minibatchSize,
                    optimizer,
                    optimizer.withLr(valueLr),
                    beta,
                    klTarget,
                    gamma,
                    ptxBatchSize,
                    discount,
                    lambda,
                    clipRange,
                    valueClipRange,
                    seed);
        }
    }
}
