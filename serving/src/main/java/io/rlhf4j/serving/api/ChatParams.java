package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.chat.ChatMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/chat/completions} body (OpenAI's chat fields). {@code topLogprobs} is null
 * when {@code logprobs} is off, else how many alternatives each token reports.
 */
record ChatParams(RequestFields.Common common, List<ChatMessage> messages, Integer topLogprobs) {

    static final int MAX_TOP_LOGPROBS = 20;

    static ChatParams parse(JsonNode body, int maxTokensCap) {
        JsonNode b = RequestFields.object(body);
        List<ChatMessage> messages = messages(b.get("messages"));
        // max_completion_tokens replaced max_tokens in OpenAI's API; either is taken, the new one first.
        String lengthField = b.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int maxTokens = RequestFields.integer(b, lengthField, maxTokensCap, 0, maxTokensCap);
        Integer top = null;
        if (RequestFields.bool(b, "logprobs", false)) {
            top = RequestFields.integer(b, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS);
        } else if (b.hasNonNull("top_logprobs")) {
            throw ApiError.invalid("top_logprobs", "top_logprobs needs logprobs: true");
        }
        return new ChatParams(RequestFields.common(b, maxTokens), messages, top);
    }

    private static List<ChatMessage> messages(JsonNode list) {
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw ApiError.invalid("messages", "messages must be a non-empty list of {role, content} objects");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            String field = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiError.invalid(field, field + " must be an object with role and content");
            }
            String role = m.path("role").asText("");
            if (role.equals("developer")) {
                role = "system"; // OpenAI's newer name for the system turn
            }
            if (!ChatMessage.ROLES.contains(role)) {
                throw ApiError.invalid(field + ".role", "unknown role '" + m.path("role").asText()
                        + "' (supported: system, developer, user, assistant)");
            }
            out.add(new ChatMessage(role, content(m.get("content"), field + ".content")));
        }
        return out;
    }

    /** A string, or a list of {@code {"type": "text", "text": ...}} parts, joined. */
    private static String content(JsonNode c, String field) {
        if (c == null || c.isNull()) {
            throw ApiError.invalid(field, field + " is required");
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (!c.isArray()) {
            throw ApiError.invalid(field, field + " must be a string or a list of text parts");
        }
        StringBuilder text = new StringBuilder();
        for (JsonNode part : c) {
            if (!"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                throw ApiError.invalid(field, field + " may only hold text parts ({\"type\": \"text\", "
                        + "\"text\": ...}); this model takes no " + part.path("type").asText("untyped") + " input");
            }
            text.append(part.get("text").asText());
        }
        return text.toString();
    }
}
