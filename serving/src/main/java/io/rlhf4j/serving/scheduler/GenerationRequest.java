package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.SamplingParams;

/**
 * One prompt to complete {@code n} times. {@code topLogprobs} is how many alternatives to report per
 * token (0 for only the chosen token's log-prob, as OpenAI's {@code logprobs: 0}). With
 * {@code promptLogprobs} the prompt's own tokens are scored too ({@code echo} with {@code logprobs}).
 */
public record GenerationRequest(int[] prompt, SamplingParams params, int n, int topLogprobs, boolean promptLogprobs) {

    public GenerationRequest(int[] prompt, SamplingParams params, int n, int topLogprobs) {
        this(prompt, params, n, topLogprobs, false);
    }

    public GenerationRequest {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("a prompt needs at least one token");
        }
        if (n < 1) {
            throw new IllegalArgumentException("n must be at least 1");
        }
    }
}
