package io.rlhf4j.trainer.pretrain;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.rlhf4j.core.config.ModelConfig;

/**
 * Hyper-parameters of a pretraining run. The defaults are the embedded demo model's: a ~1M-parameter
 * Llama trained on WordNet glosses in a few minutes on two cores.
 */
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
        @JsonProperty("lr") double lr,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("grad_clip") double gradClip,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("eval_batches") int evalBatches,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("validation_percent") int validationPercent,
        @JsonProperty("seed") long seed) {

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
            throw new IllegalArgumentException("vocab_size must be at least 260 (256 bytes plus special tokens), got "
                    + vocabSize);
        }
    }

    public static PretrainConfig demo() {
        return new PretrainConfig(2048, 128, 352, 4, 4, 2, 128, 16, 1500, 3e-3, 3e-4, 100, 0.1, 1.0, 0.0,
                250, 8, 250, 2, 1234);
    }

    /** The model this run trains, given its tokenizer's special tokens. */
    public ModelConfig modelConfig(int bos, int eos) {
        return new ModelConfig(io.rlhf4j.core.config.ModelFamily.LLAMA, vocabSize, dim, hiddenDim, layers, heads,
                kvHeads, seqLen, 1e-5, 10000.0, true, dropout, bos, eos);
    }

    /** Linear warm-up to {@code lr}, then cosine decay to {@code minLr} at the last step. */
    public double learningRate(int step) {
        return io.rlhf4j.trainer.optim.LearningRate.warmupCosine(step, steps, warmupSteps, lr, minLr);
    }

    private static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }
}
