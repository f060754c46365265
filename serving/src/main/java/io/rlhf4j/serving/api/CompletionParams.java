package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/completions} body (OpenAI's legacy completions fields, plus {@code top_k}
 * as vLLM has it). Every field is checked with a message naming it.
 */
record CompletionParams(RequestFields.Common common, List<String> prompts, Integer logprobs, boolean echo) {

    static CompletionParams parse(JsonNode body, int maxTokensCap) {
        JsonNode b = RequestFields.object(body);
        JsonNode p = b.get("prompt");
        List<String> prompts = new ArrayList<>();
        if (p == null || p.isNull()) {
            prompts.add("");
        } else if (p.isTextual()) {
            prompts.add(p.asText());
        } else if (p.isArray() && p.size() > 0) {
            for (JsonNode e : p) {
                if (!e.isTextual()) {
                    throw ApiError.invalid("prompt", "prompt must be a string or a list of strings");
                }
                prompts.add(e.asText());
            }
        } else {
            throw ApiError.invalid("prompt", "prompt must be a string or a non-empty list of strings");
        }
        int maxTokens = RequestFields.integer(b, "max_tokens", 16, 0, maxTokensCap);
        Integer logprobs = b.hasNonNull("logprobs") ? RequestFields.integer(b, "logprobs", 0, 0, 5) : null;
        boolean echo = RequestFields.bool(b, "echo", false);
        return new CompletionParams(RequestFields.common(b, maxTokens), prompts, logprobs, echo);
    }
}
