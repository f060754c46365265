package io.rlhf4j.trainer.ppo;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * PPO-ptx hyper-parameters, named as in the paper where it names them: {@code beta} the KL coefficient
 * (fixed, or adapted towards {@code klTarget} when that is positive), {@code gamma} the weight of the
 * pretraining log-likelihood ({@code gamma = 0} is plain PPO). The RL discount and GAE's lambda are
 * {@code discount} and {@code lambda}.
 */
public record PpoConfig(
        @JsonProperty("iterations") int iterations,
        @JsonProperty("rollouts_per_iteration") int rolloutsPerIteration,
        @JsonProperty("max_new_tokens") int maxNewTokens,
        @JsonProperty("ppo_epochs") int ppoEpochs,
        @JsonProperty("minibatch_size") int minibatchSize,
        @JsonProperty("lr") double lr,
        @JsonProperty("value_lr") double valueLr,
        @JsonProperty("beta") double beta,
        @JsonProperty("kl_target") double klTarget,
        @JsonProperty("gamma") double gamma,
        @JsonProperty("ptx_batch_size") int ptxBatchSize,
        @JsonProperty("discount") double discount,
        @JsonProperty("lambda") double lambda,
        @JsonProperty("clip_range") double clipRange,
        @JsonProperty("value_clip_range") double valueClipRange,
        @JsonProperty("grad_clip") double gradClip,
        @JsonProperty("seed") long seed) {

    public PpoConfig {
        if (iterations < 1 || rolloutsPerIteration < 1 || maxNewTokens < 1 || ppoEpochs < 1 || minibatchSize < 1) {
            throw new IllegalArgumentException("iterations, rollouts, max_new_tokens, ppo_epochs and minibatch_size "
                    + "must be positive");
        }
        if (!(lr > 0) || !(valueLr > 0) || beta < 0 || gamma < 0 || klTarget < 0 || clipRange <= 0
                || valueClipRange <= 0 || !(discount > 0 && discount <= 1) || !(lambda >= 0 && lambda <= 1)) {
            throw new IllegalArgumentException("invalid PPO coefficients");
        }
    }

    public static PpoConfig defaults() {
        return new PpoConfig(20, 16, 24, 2, 8, 1e-5, 1e-5, 0.02, 0.0, 0.0, 8, 1.0, 0.95, 0.2, 0.2, 1.0, 1234);
    }

    /** The same run with pretraining mix {@code g} (0 is plain PPO). */
    public PpoConfig withGamma(double g) {
        return new PpoConfig(iterations, rolloutsPerIteration, maxNewTokens, ppoEpochs, minibatchSize, lr, valueLr, beta,
                klTarget, g, ptxBatchSize, discount, lambda, clipRange, valueClipRange, gradClip, seed);
    }
}
