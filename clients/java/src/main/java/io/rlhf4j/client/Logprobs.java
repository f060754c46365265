package io.rlhf4j.client;

import java.util.List;
import java.util.Map;

/**
 * OpenAI's legacy per-token log probabilities, the lists parallel (one entry per generated token).
 *
 * @param tokens each token's text
 * @param tokenLogprobs the log probability of each token as sampled
 * @param topLogprobs the likeliest alternatives at each position, token to log probability; empty when
 *     {@code logprobs} was 0
 * @param textOffset where each token starts in the choice's text
 */
public record Logprobs(
        List<String> tokens,
        List<Double> tokenLogprobs,
        List<Map<String, Double>> topLogprobs,
        List<Integer> textOffset) {

    public Logprobs {
        tokens = Json.copy(tokens);
        tokenLogprobs = Json.copy(tokenLogprobs);
        topLogprobs = Json.copy(topLogprobs);
        textOffset = Json.copy(textOffset);
    }
}
