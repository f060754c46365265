package io.rlhf4j.trainer.rm;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Hyper-parameters of reward-model training (one ranking, all its C(K,2) pairs, per batch element). */
public record RmConfig(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("rankings_per_step") int rankingsPerStep,
        @JsonProperty("lr") double lr,
        @JsonProperty("min_lr") double minLr,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("grad_clip") double gradClip,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("seed") long seed) {

    public RmConfig {
        if (epochs < 1 || rankingsPerStep < 1 || evalEvery < 1) {
            throw new IllegalArgumentException("epochs, rankings_per_step and eval_every must be positive");
        }
        if (!(lr > 0) || !(minLr >= 0) || minLr > lr || warmupSteps < 0 || weightDecay < 0) {
            throw new IllegalArgumentException("invalid learning rate, warm-up or weight decay");
        }
    }

    /** InstructGPT trained its reward model for a single epoch: more overfits. */
    public static RmConfig defaults() {
        return new RmConfig(1, 8, 5e-4, 5e-5, 10, 0.0, 1.0, 50, 1234);
    }
}
