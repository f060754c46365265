package io.rlhf4j.client;

import java.util.Objects;

/**
 * One turn of a conversation: {@code system}, {@code user} or {@code assistant}, and its text.
 *
 * @param role who speaks
 * @param content what they say
 */
public record ChatMessage(String role, String content) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
