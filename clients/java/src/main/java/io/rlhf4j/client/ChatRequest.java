package io.rlhf4j.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A conversation to answer, in OpenAI's chat fields plus {@code top_k} and rlhf4j's
 * {@code training_consent}. The server renders it with the served model's chat template. As with
 * {@link CompletionRequest}, every field but the messages is nullable, null meaning the server's default
 * (for {@code maxTokens}: the rest of the context window).
 *
 * @param messages the turns so far, oldest first; the reply continues the last
 * @param model the version to ask for; null or {@code "rlhf4j"} for the active one
 * @param maxTokens tokens to generate at most ({@code max_completion_tokens})
 * @param temperature 0 for greedy decoding
 * @param topP nucleus sampling's probability mass, in (0, 1]
 * @param topK sample among the K likeliest tokens only; 0 for no limit
 * @param n replies to the same conversation
 * @param stop sequences that end a reply (not included in it)
 * @param seed makes sampling reproducible
 * @param user the end user's id, for a service key that may set it (and for open mode)
 * @param trainingConsent whether this conversation may be used for training; null for the user's standing consent
 */
public record ChatRequest(
        List<ChatMessage> messages,
        String model,
        Integer maxTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Integer n,
        List<String> stop,
        Long seed,
        String user,
        Boolean trainingConsent) {

    public ChatRequest {
        messages = Json.copy(Objects.requireNonNull(messages, "messages"));
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("a chat request needs at least one message");
        }
        stop = Json.copyOrNull(stop);
    }

    /** One user turn, the server's defaults for the rest. */
    public static ChatRequest of(String userMessage) {
        return builder().user(userMessage).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The wire body; only the fields that are set. A stream asks for the usage in its last chunk. */
    ObjectNode toJson(boolean stream) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        var list = o.putArray("messages");
        messages.forEach(m -> list.addObject().put("role", m.role()).put("content", m.content()));
        if (model != null) {
            o.put("model", model);
        }
        if (maxTokens != null) {
            o.put("max_completion_tokens", maxTokens);
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
        if (user != null) {
            o.put("user", user);
        }
        if (trainingConsent != null) {
            o.put("training_consent", trainingConsent);
        }
        if (stream) {
            o.put("stream", true);
            o.putObject("stream_options").put("include_usage", true);
        }
        return o;
    }

    /** Builds a {@link ChatRequest}: turns are added in order; each other setter overwrites. */
    public static final class Builder {
        private final List<ChatMessage> messages = new ArrayList<>();
        private String model;
        private Integer maxTokens;
        private Double temperature;
        private Double topP;
        private Integer topK;
        private Integer n;
        private List<String> stop;
        private Long seed;
        private String endUser;
        private Boolean trainingConsent;

        private Builder() {}

        public Builder message(ChatMessage message) {
            messages.add(Objects.requireNonNull(message, "message"));
            return this;
        }

        public Builder system(String content) {
            return message(ChatMessage.system(content));
        }

        /** Adds a user turn (the end user's id is {@link #endUser}). */
        public Builder user(String content) {
            return message(ChatMessage.user(content));
        }

        public Builder assistant(String content) {
            return message(ChatMessage.assistant(content));
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
            this.stop = Arrays.asList(stop);
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The end user's id, sent as {@code user}. */
        public Builder endUser(String endUser) {
            this.endUser = endUser;
            return this;
        }

        public Builder trainingConsent(boolean trainingConsent) {
            this.trainingConsent = trainingConsent;
            return this;
        }

        public ChatRequest build() {
            return new ChatRequest(
                    messages, model, maxTokens, temperature, topP, topK, n, stop, seed, endUser, trainingConsent);
        }
    }
}
