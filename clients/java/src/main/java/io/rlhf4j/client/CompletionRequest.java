package io.rlhf4j.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What to generate: OpenAI's legacy completion fields plus {@code top_k} and rlhf4j's
 * {@code training_consent}. Immutable, so one request can be sent plainly, streamed, or copied with
 * {@link #toBuilder()} and varied.
 *
 * <p>Every field but the prompt is nullable, and null means "the server's default" (16 tokens,
 * temperature 1, one choice, the user's stored consent, ...): the client does not repeat those defaults,
 * nor the server's range checks, so a server with other limits is not second-guessed and a bad value comes
 * back as a {@link Rlhf4jException} naming the field.
 *
 * @param prompt the text to continue
 * @param model the version to ask for; null or {@code "rlhf4j"} for whichever version is active (a
 *     version that is not active is refused rather than silently replaced)
 * @param maxTokens tokens to generate at most
 * @param temperature 0 for greedy decoding
 * @param topP nucleus sampling's probability mass, in (0, 1]
 * @param topK sample among the K likeliest tokens only; 0 for no limit
 * @param n completions of the same prompt
 * @param stop sequences that end a completion (not included in its text)
 * @param seed makes sampling reproducible
 * @param logprobs include each token's log probability and this many alternatives (0..5)
 * @param echo prefix each completion's text with the prompt
 * @param user the end user's id, for a service key that may set it (and for open mode)
 * @param trainingConsent whether this prompt may be used for training; null for the user's standing consent
 */
public record CompletionRequest(
        String prompt,
        String model,
        Integer maxTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Integer n,
        List<String> stop,
        Long seed,
        Integer logprobs,
        Boolean echo,
        String user,
        Boolean trainingConsent) {

    public CompletionRequest {
        Objects.requireNonNull(prompt, "prompt");
        stop = Json.copyOrNull(stop);
        if (stop != null && stop.contains(null)) {
            throw new IllegalArgumentException("stop sequences must not be null");
        }
    }

    /** A request with the server's defaults for everything but the prompt. */
    public static CompletionRequest of(String prompt) {
        return builder().prompt(prompt).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from this request's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompt = prompt;
        b.model = model;
        b.maxTokens = maxTokens;
        b.temperature = temperature;
        b.topP = topP;
        b.topK = topK;
        b.n = n;
        b.stop = stop;
        b.seed = seed;
        b.logprobs = logprobs;
        b.echo = echo;
        b.user = user;
        b.trainingConsent = trainingConsent;
        return b;
    }

    /** The wire body; only the fields that are set, so the server's defaults apply to the rest. */
    ObjectNode toJson(boolean stream) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("prompt", prompt);
        if (model != null) {
            o.put("model", model);
        }
        if (maxTokens != null) {
            o.put("max_tokens", maxTokens);
        }
        if (temperature != null) {
            o.put("temperature", temperature);
        }
        if (topP != null) {
            o.put("top_p", topP);
        }
        if (topK != null) {
            o.put("top_k", topK);
        }
        if (n != null) {
            o.put("n", n);
        }
        if (stop != null) {
            stop.forEach(o.putArray("stop")::add);
        }
        if (seed != null) {
            o.put("seed", seed);
        }
        if (logprobs != null) {
            o.put("logprobs", logprobs);
        }
        if (echo != null) {
            o.put("echo", echo);
        }
        if (user != null) {
            o.put("user", user);
        }
        if (trainingConsent != null) {
            o.put("training_consent", trainingConsent);
        }
        if (stream) {
            o.put("stream", true);
        }
        return o;
    }

    /**
     * Builds a {@link CompletionRequest}; each setter overwrites, unset fields stay null (the server's
     * default). Setters take primitives so that {@code temperature(0)} and {@code seed(42)} compile.
     */
    public static final class Builder {
        private String prompt;
        private String model;
        private Integer maxTokens;
        private Double temperature;
        private Double topP;
        private Integer topK;
        private Integer n;
        private List<String> stop;
        private Long seed;
        private Integer logprobs;
        private Boolean echo;
        private String user;
        private Boolean trainingConsent;

        private Builder() {}

        public Builder prompt(String prompt) {
            this.prompt = prompt;
            return this;
        }

        public Builder model(String model) {
            this.model = model;
            return this;
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        public Builder n(int n) {
            this.n = n;
            return this;
        }

        public Builder stop(String... stop) {
            this.stop = stop == null ? null : Arrays.asList(stop);
            return this;
        }

        public Builder stop(List<String> stop) {
            this.stop = stop;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder logprobs(int logprobs) {
            this.logprobs = logprobs;
            return this;
        }

        public Builder echo(boolean echo) {
            this.echo = echo;
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        public Builder trainingConsent(boolean trainingConsent) {
            this.trainingConsent = trainingConsent;
            return this;
        }

        /** @throws NullPointerException without a prompt (use "" to generate from the start token alone) */
        public CompletionRequest build() {
            return new CompletionRequest(
                    prompt,
                    model,
                    maxTokens,
                    temperature,
                    topP,
                    topK,
                    n,
                    stop,
                    seed,
                    logprobs,
                    echo,
                    user,
                    trainingConsent);
        }
    }
}
