package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/completions} body (OpenAI's legacy completions fields, plus {@code top_k}
 * as vLLM has it). Every field is checked with a message naming it.
 */
record CompletionParams(RequestFields.Common common, List<Prompt> prompts, Integer logprobs, boolean echo) {

    /** A prompt as text (tokenized with BOS) or as token ids (taken as they are, as evaluation clients send). */
    record Prompt(String text, int[] ids) {
    }

    static CompletionParams parse(JsonNode body, int maxTokensCap) {
        JsonNode b = RequestFields.object(body);
        int maxTokens = RequestFields.integer(b, "max_tokens", 16, 0, maxTokensCap);
        Integer logprobs = b.hasNonNull("logprobs") ? RequestFields.integer(b, "logprobs", 0, 0, 5) : null;
        boolean echo = RequestFields.bool(b, "echo", false);
        return new CompletionParams(RequestFields.common(b, maxTokens), prompts(b.get("prompt")), logprobs, echo);
    }

    /** A string, a list of strings, a list of token ids, or a list of such lists. */
    private static List<Prompt> prompts(JsonNode p) {
        List<Prompt> prompts = new ArrayList<>();
        if (p == null || p.isNull()) {
            prompts.add(new Prompt("", null));
        } else if (p.isTextual()) {
            prompts.add(new Prompt(p.asText(), null));
        } else if (p.isArray() && p.size() > 0 && p.get(0).isNumber()) {
            prompts.add(new Prompt(null, ids(p)));
        } else if (p.isArray() && p.size() > 0) {
            for (JsonNode e : p) {
                if (e.isTextual()) {
                    prompts.add(new Prompt(e.asText(), null));
                } else if (e.isArray() && e.size() > 0) {
                    prompts.add(new Prompt(null, ids(e)));
                } else {
                    throw ApiError.invalid("prompt", "prompt must be a string, a list of strings, a list of token "
                            + "ids or a list of non-empty lists of token ids");
                }
            }
        } else {
            throw ApiError.invalid("prompt", "prompt must be a string or a non-empty list of strings or token ids");
        }
        return prompts;
    }

    private static int[] ids(JsonNode list) {
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode id = list.get(i);
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
                throw ApiError.invalid("prompt", "token ids must be non-negative integers, got " + id);
            }
            ids[i] = id.asInt();
        }
        return ids;
    }
}
