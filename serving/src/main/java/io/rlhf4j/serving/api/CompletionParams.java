package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated {@code POST /v1/completions} body (OpenAI's legacy completions fields, plus {@code top_k}
 * as vLLM has it). Every field is checked with a message naming it.
 */
record CompletionParams(String model, List<String> prompts, SamplingParams sampling, int n, Integer logprobs,
        boolean echo, boolean stream, String user, boolean consent) {

    static final int MAX_N = 16;
    static final int MAX_STOPS = 4;

    static CompletionParams parse(JsonNode b, int maxTokensCap) {
        if (b == null || !b.isObject()) {
            throw ApiError.invalid(null, "the request body must be a JSON object");
        }
        String model = optionalText(b, "model");
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
        int maxTokens = integer(b, "max_tokens", 16, 0, maxTokensCap);
        double temperature = number(b, "temperature", 1.0, 0, 2);
        double topP = number(b, "top_p", 1.0, 0, 1);
        if (topP == 0) {
            throw ApiError.invalid("top_p", "top_p must be greater than 0");
        }
        int topK = integer(b, "top_k", 0, -1, Integer.MAX_VALUE);
        int n = integer(b, "n", 1, 1, MAX_N);
        Integer logprobs = b.hasNonNull("logprobs") ? integer(b, "logprobs", 0, 0, 5) : null;
        boolean echo = bool(b, "echo", false);
        boolean stream = bool(b, "stream", false);
        String user = optionalText(b, "user");
        boolean consent = bool(b, "training_consent", true);
        Long seed = null;
        if (b.hasNonNull("seed")) {
            if (!b.get("seed").canConvertToLong() || !b.get("seed").isIntegralNumber()) {
                throw ApiError.invalid("seed", "seed must be an integer");
            }
            seed = b.get("seed").asLong();
        }
        List<String> stop = new ArrayList<>();
        JsonNode s = b.get("stop");
        if (s != null && !s.isNull()) {
            if (s.isTextual()) {
                stop.add(s.asText());
            } else if (s.isArray()) {
                for (JsonNode e : s) {
                    if (!e.isTextual()) {
                        throw ApiError.invalid("stop", "stop must be a string or a list of strings");
                    }
                    stop.add(e.asText());
                }
            } else {
                throw ApiError.invalid("stop", "stop must be a string or a list of strings");
            }
            if (stop.size() > MAX_STOPS) {
                throw ApiError.invalid("stop", "at most " + MAX_STOPS + " stop sequences are allowed");
            }
            if (stop.stream().anyMatch(String::isEmpty)) {
                throw ApiError.invalid("stop", "stop sequences must not be empty");
            }
        }
        SamplingParams sampling = new SamplingParams(maxTokens, temperature, topP, Math.max(0, topK), stop, seed);
        return new CompletionParams(model, prompts, sampling, n, logprobs, echo, stream, user, consent);
    }

    private static String optionalText(JsonNode b, String field) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw ApiError.invalid(field, field + " must be a string");
        }
        return v.asText();
    }

    private static int integer(JsonNode b, String field, int dflt, int min, int max) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiError.invalid(field, field + " must be an integer");
        }
        int x = v.asInt();
        if (x < min || x > max) {
            throw ApiError.invalid(field, field + " must be between " + min + " and " + max + ", got " + x);
        }
        return x;
    }

    private static double number(JsonNode b, String field, double dflt, double min, double max) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber()) {
            throw ApiError.invalid(field, field + " must be a number");
        }
        double x = v.asDouble();
        if (!(x >= min && x <= max)) {
            throw ApiError.invalid(field, field + " must be between " + min + " and " + max + ", got " + x);
        }
        return x;
    }

    private static boolean bool(JsonNode b, String field, boolean dflt) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiError.invalid(field, field + " must be true or false");
        }
        return v.asBoolean();
    }
}
