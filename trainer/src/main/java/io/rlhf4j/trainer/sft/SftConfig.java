package io.rlhf4j.trainer.sft;

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
 * Hyper-parameters of supervised fine-tuning on demonstrations (InstructGPT: cosine decay, residual
 * dropout). The optimizer's settings are nested, but the JSON stays flat ({@code lr}, {@code weight_decay},
 * {@code grad_clip} beside {@code min_lr}): config files and the state of runs written before still read,
 * and resume, unchanged.
 */
@JsonDeserialize(builder = SftConfig.Builder.class)
@JsonPropertyOrder({
    "epochs",
    "batch_size",
    "lr",
    "min_lr",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "dropout",
    "eval_every",
    "seed"
})
public record SftConfig(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("batch_size") int batchSize,
        @JsonIgnore OptimizerConfig optimizer,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("seed") long seed)
        implements FlatOptimizerJson {

    public SftConfig {
        if (epochs < 1 || batchSize < 1 || evalEvery < 1) {
            throw new IllegalArgumentException("epochs, batch_size and eval_every must be positive");
        }
        double lr = optimizer.lr();
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr) {
            throw new IllegalArgumentException("need 0 <= min_lr <= lr and lr > 0, got lr=" + lr + " min_lr=" + minLr);
        }
        if (warmupSteps < 0 || !(dropout >= 0 && dropout < 1) || optimizer.weightDecay() < 0) {
            throw new IllegalArgumentException("invalid warmup_steps, dropout or weight_decay");
        }
    }

    public static SftConfig defaults() {
        return new Builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.epochs(2))}. */
    public SftConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .epochs(epochs)
                .batchSize(batchSize)
                .optimizer(optimizer)
                .minLr(minLr)
                .warmupSteps(warmupSteps)
                .dropout(dropout)
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
            super(OptimizerConfig.adamW(1e-3, 0.0, 1.0));
        }

        private int epochs = 4;
        private int batchSize = 8;
        private double minLr = 1e-4;
        private int warmupSteps = 10;
        private double dropout = 0.1;
        private int evalEvery = 50;
        private long seed = 1234;

        @JsonProperty("epochs")
        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        @JsonProperty("batch_size")
        public Builder batchSize(int v) {
            batchSize = v;
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

        @JsonProperty("dropout")
        public Builder dropout(double v) {
            dropout = v;
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

        public SftConfig build() {
            return new SftConfig(epochs, batchSize, optimizer, minLr, warmupSteps, dropout, evalEvery, seed);
        }
    }
}
