package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields that {@code /v1/completions} and {@code /v1/chat/completions} share, read from a request
 * body with a 400 naming the field when one is wrong.
 */
final class RequestFields {

    static final int MAX_N = 16;
    static final int MAX_STOPS = 4;

    /** What both endpoints take besides their prompt. */
    record Common(String model, SamplingParams sampling, int n, boolean stream, boolean includeUsage, String user,
            boolean consent) {
    }

    private RequestFields() {
    }

    static JsonNode object(JsonNode b) {
        if (b == null || !b.isObject()) {
            throw ApiError.invalid(null, "the request body must be a JSON object");
        }
        return b;
    }

    /** The shared fields; {@code maxTokens} is the endpoint's own reading of its length field. */
    static Common common(JsonNode b, int maxTokens) {
        String model = optionalText(b, "model");
        double temperature = number(b, "temperature", 1.0, 0, 2);
        double topP = number(b, "top_p", 1.0, 0, 1);
        if (topP == 0) {
            throw ApiError.invalid("top_p", "top_p must be greater than 0");
        }
        int topK = integer(b, "top_k", 0, -1, Integer.MAX_VALUE);
        int n = integer(b, "n", 1, 1, MAX_N);
        boolean stream = bool(b, "stream", false);
        boolean includeUsage = false;
        JsonNode options = b.get("stream_options");
        if (options != null && !options.isNull()) {
            if (!options.isObject()) {
                throw ApiError.invalid("stream_options", "stream_options must be an object");
            }
            if (!stream) {
                throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
            }
            includeUsage = bool(options, "include_usage", false);
        }
        String user = optionalText(b, "user");
        boolean consent = bool(b, "training_consent", true);
        Long seed = null;
        if (b.hasNonNull("seed")) {
            if (!b.get("seed").canConvertToLong() || !b.get("seed").isIntegralNumber()) {
                throw ApiError.invalid("seed", "seed must be an integer");
            }
            seed = b.get("seed").asLong();
        }
        SamplingParams sampling = new SamplingParams(maxTokens, temperature, topP, Math.max(0, topK), stop(b), seed);
        return new Common(model, sampling, n, stream, includeUsage, user, consent);
    }

    private static List<String> stop(JsonNode b) {
        List<String> stop = new ArrayList<>();
        JsonNode s = b.get("stop");
        if (s == null || s.isNull()) {
            return stop;
        }
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
        return stop;
    }

    static String optionalText(JsonNode b, String field) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw ApiError.invalid(field, field + " must be a string");
        }
        return v.asText();
    }

    static int integer(JsonNode b, String field, int dflt, int min, int max) {
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

    static double number(JsonNode b, String field, double dflt, double min, double max) {
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

    static boolean bool(JsonNode b, String field, boolean dflt) {
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
