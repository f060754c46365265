package io.rlhf4j.trainer.rm;

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
 * Hyper-parameters of reward-model training (one ranking, all its C(K,2) pairs, per batch element). The
 * JSON is flat, as before the optimizer's settings had a record of their own (see {@code SftConfig}).
 */
@JsonDeserialize(builder = RmConfig.Builder.class)
@JsonPropertyOrder({
    "epochs",
    "rankings_per_step",
    "lr",
    "min_lr",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "eval_every",
    "seed"
})
public record RmConfig(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("rankings_per_step") int rankingsPerStep,
        @JsonIgnore OptimizerConfig optimizer,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("seed") long seed)
        implements FlatOptimizerJson {

    public RmConfig {
        if (epochs < 1 || rankingsPerStep < 1 || evalEvery < 1) {
            throw new IllegalArgumentException("epochs, rankings_per_step and eval_every must be positive");
        }
        double lr = optimizer.lr();
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr || warmupSteps < 0 || optimizer.weightDecay() < 0) {
            throw new IllegalArgumentException("invalid learning rate, warm-up or weight decay");
        }
    }

    /** InstructGPT trained its reward model for a single epoch: more overfits. */
    public static RmConfig defaults() {
        return new Builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.epochs(2))}. */
    public RmConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .epochs(epochs)
                .rankingsPerStep(rankingsPerStep)
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
            super(OptimizerConfig.adamW(5e-4, 0.0, 1.0));
        }

        private int epochs = 1;
        private int rankingsPerStep = 8;
        private double minLr = 5e-5;
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

        public RmConfig build() {
            return new RmConfig(epochs, rankingsPerStep, optimizer, minLr, warmupSteps, evalEvery, seed);
        }
    }
}
