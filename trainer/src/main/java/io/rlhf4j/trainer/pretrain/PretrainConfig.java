package io.rlhf4j.trainer.pretrain;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.config.ModelFamily;
import io.rlhf4j.trainer.optim.FlatOptimizerJson;
import io.rlhf4j.trainer.optim.LearningRate;
import io.rlhf4j.trainer.optim.OptimizerConfig;
import io.rlhf4j.trainer.optim.OptimizerSettings;
import java.util.function.Consumer;

/**
 * Hyper-parameters of a pretraining run. The defaults are the embedded demo model's: a ~1M-parameter
 * Llama trained on WordNet glosses in a few minutes on two cores. The JSON is flat, as before the
 * optimizer's settings had a record of their own, so the demo model's {@code trainer_state.json} still
 * matches (see {@code SftConfig}).
 */
@JsonDeserialize(builder = PretrainConfig.Builder.class)
@JsonPropertyOrder({
    "vocab_size",
    "dim",
    "hidden_dim",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "seq_len",
    "batch_size",
    "steps",
    "lr",
    "min_lr",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "dropout",
    "eval_every",
    "eval_batches",
    "checkpoint_every",
    "validation_percent",
    "seed"
})
public record PretrainConfig(
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("dim") int dim,
        @JsonProperty("hidden_dim") int hiddenDim,
        @JsonProperty("n_layers") int layers,
        @JsonProperty("n_heads") int heads,
        @JsonProperty("n_kv_heads") int kvHeads,
        @JsonProperty("seq_len") int seqLen,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("steps") int steps,
        @JsonIgnore OptimizerConfig optimizer,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("eval_batches") int evalBatches,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("validation_percent") int validationPercent,
        @JsonProperty("seed") long seed)
        implements FlatOptimizerJson {

    public PretrainConfig {
        positive("vocab_size", vocabSize);
        positive("dim", dim);
        positive("hidden_dim", hiddenDim);
        positive("n_layers", layers);
        positive("n_heads", heads);
        positive("n_kv_heads", kvHeads);
        positive("seq_len", seqLen);
        positive("batch_size", batchSize);
        positive("steps", steps);
        positive("eval_every", evalEvery);
        positive("eval_batches", evalBatches);
        positive("checkpoint_every", checkpointEvery);
        double lr = optimizer.lr();
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr) {
            throw new IllegalArgumentException("need 0 <= min_lr <= lr and lr > 0, got lr=" + lr + " min_lr=" + minLr);
        }
        if (warmupSteps < 0 || warmupSteps >= steps) {
            throw new IllegalArgumentException("warmup_steps must be in [0, steps), got " + warmupSteps);
        }
        if (validationPercent < 1 || validationPercent > 50) {
            throw new IllegalArgumentException("validation_percent must be in [1, 50], got " + validationPercent);
        }
        if (vocabSize < 260) {
            throw new IllegalArgumentException(
                    "vocab_size must be at least 260 (256 bytes plus special tokens), got " + vocabSize);
        }
    }

    public static PretrainConfig demo() {
        return new Builder().build();
    }

    /** A builder holding the demo model's settings. */
    public static Builder builder() {
        return new Builder();
    }

    /** These settings with the changes {@code edit} makes by name, e.g. {@code with(b -> b.steps(12))}. */
    public PretrainConfig with(Consumer<Builder> edit) {
        Builder b = toBuilder();
        edit.accept(b);
        return b.build();
    }

    public Builder toBuilder() {
        return new Builder()
                .vocabSize(vocabSize)
                .dim(dim)
                .hiddenDim(hiddenDim)
                .layers(layers)
                .heads(heads)
                .kvHeads(kvHeads)
                .seqLen(seqLen)
                .batchSize(batchSize)
                .steps(steps)
                .optimizer(optimizer)
                .minLr(minLr)
                .warmupSteps(warmupSteps)
                .dropout(dropout)
                .evalEvery(evalEvery)
                .evalBatches(evalBatches)
                .checkpointEvery(checkpointEvery)
                .validationPercent(validationPercent)
                .seed(seed);
    }

    /** The model this run trains, given its tokenizer's special tokens. */
    public ModelConfig modelConfig(int bos, int eos) {
        return new ModelConfig(
                ModelFamily.LLAMA,
                vocabSize,
                dim,
                hiddenDim,
                layers,
                heads,
                kvHeads,
                seqLen,
                1e-5,
                10000.0,
                true,
                dropout,
                bos,
                eos);
    }

    /** Linear warm-up to {@code lr}, then cosine decay to {@code minLr} at the last step. */
    public double learningRate(int step) {
        return LearningRate.warmupCosine(step, steps, warmupSteps, optimizer.lr(), minLr);
    }

    private static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /** Settings by name; starts from the demo model's. Jackson reads the flat JSON through it. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends OptimizerSettings<Builder> {
        private Builder() {
            super(OptimizerConfig.adamW(3e-3, 0.1, 1.0));
        }

        private int vocabSize = 2048;
        private int dim = 128;
        private int hiddenDim = 352;
        private int layers = 4;
        private int heads = 4;
        private int kvHeads = 2;
        private int seqLen = 128;
        private int batchSize = 16;
        private int steps = 1500;
        private double minLr = 3e-4;
        private int warmupSteps = 100;
        private double dropout = 0.0;
        private int evalEvery = 250;
        private int evalBatches = 8;
        private int checkpointEvery = 250;
        private int validationPercent = 2;
        private long seed = 1234;

        @JsonProperty("vocab_size")
        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        @JsonProperty("dim")
        public Builder dim(int v) {
            dim = v;
            return this;
        }

        @JsonProperty("hidden_dim")
        public Builder hiddenDim(int v) {
            hiddenDim = v;
            return this;
        }

        @JsonProperty("n_layers")
        public Builder layers(int v) {
            layers = v;
            return this;
        }

        @JsonProperty("n_heads")
        public Builder heads(int v) {
            heads = v;
            return this;
        }

        @JsonProperty("n_kv_heads")
        public Builder kvHeads(int v) {
            kvHeads = v;
            return this;
        }

        @JsonProperty("seq_len")
        public Builder seqLen(int v) {
            seqLen = v;
            return this;
        }

        @JsonProperty("batch_size")
        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        @JsonProperty("steps")
        public Builder steps(int v) {
            steps = v;
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

        @JsonProperty("eval_batches")
        public Builder evalBatches(int v) {
            evalBatches = v;
            return this;
        }

        @JsonProperty("checkpoint_every")
        public Builder checkpointEvery(int v) {
            checkpointEvery = v;
            return this;
        }

        @JsonProperty("validation_percent")
        public Builder validationPercent(int v) {
            validationPercent = v;
            return this;
        }

        @JsonProperty("seed")
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public PretrainConfig build() {
            return new PretrainConfig(
                    vocabSize,
                    dim,
                    hiddenDim,
                    layers,
                    heads,
                    kvHeads,
                    seqLen,
                    batchSize,
                    steps,
                    optimizer,
                    minLr,
                    warmupSteps,
                    dropout,
                    evalEvery,
                    evalBatches,
                    checkpointEvery,
                    validationPercent,
                    seed);
        }
    }
}
