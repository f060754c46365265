package io.rlhf4j.core.sampling;

import java.util.List;

/**
 * How to pick each next token. {@code temperature == 0} is greedy; {@code topK <= 0} and
 * {@code topP >= 1} disable those filters. A null {@code seed} draws one from the clock. {@code ignoreEos}
 * keeps generating past EOS (for benchmarks that need a fixed length, like vLLM's {@code ignore_eos}).
 */
public record SamplingParams(
        int maxTokens, double temperature, double topP, int topK, List<String> stop, Long seed, boolean ignoreEos) {

    public SamplingParams(int maxTokens, double temperature, double topP, int topK, List<String> stop, Long seed) {
        this(maxTokens, temperature, topP, topK, stop, seed, false);
    }

    public SamplingParams {
        if (maxTokens < 0) {
            throw new IllegalArgumentException("max_tokens must be >= 0, got " + maxTokens);
        }
        if (!(temperature >= 0) || temperature > 100) {
            throw new IllegalArgumentException("temperature must be in [0, 100], got " + temperature);
        }
        if (!(topP > 0) || topP > 1) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop sequences must not be empty");
            }
        }
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(maxTokens, 0, 1, 0, List.of(), 0L, false);
    }

    public SamplingParams withIgnoreEos(boolean ignore) {
        return new SamplingParams(maxTokens, temperature, topP, topK, stop, seed, ignore);
    }

    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }
}
