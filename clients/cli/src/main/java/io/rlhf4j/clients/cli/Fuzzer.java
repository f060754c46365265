package io.rlhf4j.clients.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Random;

/**
 * Malformed and hostile requests for the reliability suite, drawn from a seed: valid bodies of every
 * endpoint with one field set to a wrong type, an extreme value or junk, bodies that are not JSON or not
 * objects, wrong methods, content types and paths, and the odd body over the size limit.
 */
final class Fuzzer {

    private static final List<String> BODIES = List.of(
            "/v1/completions {\"prompt\":\"dog (noun):\",\"max_tokens\":4}",
            "/v1/chat/completions {\"messages\":[{\"role\":\"user\",\"content\":\"dog\"}],\"max_tokens\":4}",
            "/v1/rewards {\"prompt\":\"dog\",\"completions\":[\" a pet\"]}",
            "/v1/tokenize {\"prompt\":\"dog\"}",
            "/v1/detokenize {\"tokens\":[5,6,7]}",
            "/v1/consent {\"training_consent\":false,\"user\":\"fuzz\"}",
            "/v1/labeling/rankings {\"prompt_id\":\"p\",\"ranking\":[0,1]}",
            "/v1/labeling/skips {\"prompt_id\":\"p\"}");

    private static final List<String> FIELDS = List.of(
            "prompt",
            "max_tokens",
            "n",
            "temperature",
            "top_p",
            "top_k",
            "stop",
            "stream",
            "stream_options",
            "logprobs",
            "top_logprobs",
            "echo",
            "seed",
            "messages",
            "user",
            "model",
            "completions",
            "tokens",
            "training_consent",
            "ignore_eos",
            "logit_bias",
            "suffix",
            "best_of",
            "ranking",
            "prompt_id");

    private static final List<String> VALUES = List.of(
            "null",
            "true",
            "false",
            "-1",
            "0",
            "1",
            "16",
            "2147483648",
            "1e308",
            "-1e308",
            "0.5",
            "\"\"",
            "\"x\"",
            "\"\\ud800\"",
            "[]",
            "[1,2,3]",
            "[[]]",
            "[\"a\",\"b\"]",
            "[-5, 99999999]",
            "{}",
            "{\"a\":1}",
            "[{\"role\":\"wizard\",\"content\":1}]",
            "[{\"role\":\"user\"}]",
            "{\"include_usage\":\"yes\"}");

    private static final List<String> RAW = List.of("", "{", "[]", "null", "\"text\"", "{\"prompt\":", "{}}", "42");

    private final Random random;

    Fuzzer(long seed) {
        this.random = new Random(seed);
    }

    HttpRequest next(URI base) {
        String[] pick = BODIES.get(random.nextInt(BODIES.size())).split(" ", 2);
        String path = pick[0];
        String body = mutate(pick[1]);
        String method = path.equals("/v1/consent") ? "PUT" : "POST";
        int roll = random.nextInt(100);
        if (roll < 4) {
            method = List.of("GET", "DELETE", "PATCH").get(random.nextInt(3));
        } else if (roll < 8) {
            path = List.of(
                            "/v1/nope",
                            "/v1/completions/x",
                            "/admin/versions",
                            "/v1/labeling/next?k=abc",
                            "/v1/labeling/next?k=-3",
                            "/v1/models/../../etc/passwd",
                            "/%2e%2e/")
                    .get(random.nextInt(7));
            method = path.startsWith("/v1/labeling/next") || path.contains("models") ? "GET" : method;
        } else if (roll < 9) {
            body = "{\"prompt\":\"" + "a".repeat((1 << 20) + 10) + "\"}";
        }
        String type = random.nextInt(20) == 0 ? "text/plain" : "application/json";
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path))
                .timeout(Duration.ofSeconds(120))
                .header("content-type", type)
                .method(method, HttpRequest.BodyPublishers.ofString(body));
        return b.build();
    }

    private String mutate(String valid) {
        int roll = random.nextInt(10);
        if (roll == 0) {
            return RAW.get(random.nextInt(RAW.size()));
        }
        if (roll == 1) {
            return valid.substring(0, random.nextInt(valid.length()));
        }
        try {
            ObjectNode o = (ObjectNode) Json.MAPPER.readTree(valid);
            int changes = 1 + random.nextInt(3);
            for (int i = 0; i < changes; i++) {
                o.set(
                        FIELDS.get(random.nextInt(FIELDS.size())),
                        Json.MAPPER.readTree(VALUES.get(random.nextInt(VALUES.size()))));
            }
            if (random.nextInt(20) == 0) {
                o.set("prompt", Json.MAPPER.readTree("[".repeat(200) + "]".repeat(200)));
            }
            return o.toString();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * An answer as the API promises: a 2xx, or a 4xx (or a 503 with Retry-After) whose body is OpenAI's
     * error object with a message.
     */
    static boolean wellFormed(HttpResponse<String> r) {
        int s = r.statusCode();
        if (s >= 200 && s < 300) {
            return true;
        }
        if (s >= 500 && !(s == 503 && r.headers().firstValue("retry-after").isPresent())) {
            return false;
        }
        try {
            JsonNode e = Json.MAPPER.readTree(r.body()).path("error");
            return e.path("message").isTextual() && e.path("type").isTextual();
        } catch (IOException e) {
            return false;
        }
    }
}
