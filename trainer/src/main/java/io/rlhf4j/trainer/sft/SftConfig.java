package io.rlhf4j.trainer.sft;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Hyper-parameters of supervised fine-tuning on demonstrations (InstructGPT: cosine decay, residual dropout). */
public record SftConfig(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("lr") double lr,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("grad_clip") double gradClip,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("seed") long seed) {

    public SftConfig {
        if (epochs < 1 || batchSize < 1 || evalEvery < 1) {
            throw new IllegalArgumentException("epochs, batch_size and eval_every must be positive");
        }
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr) {
            throw new IllegalArgumentException("need 0 <= min_lr <= lr and lr > 0, got lr=" + lr + " min_lr=" + minLr);
        }
        if (warmupSteps < 0 || !(dropout >= 0 && dropout < 1) || weightDecay < 0) {
            throw new IllegalArgumentException("invalid warmup_steps, dropout or weight_decay");
        }
    }

    public static SftConfig defaults() {
        return new SftConfig(4, 8, 1e-3, 1e-4, 10, 0.0, 1.0, 0.1, 50, 1234);
    }
}
