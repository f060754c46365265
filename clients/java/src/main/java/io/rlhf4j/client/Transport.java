package io.rlhf4j.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.function.Consumer;

/**
 * The one place that speaks HTTP: credentials, timeouts, OpenAI's error body, server-sent events. The
 * typed clients above it only build JSON bodies and map answers onto records.
 */
final class Transport {

    /** Which secret a call presents: user-facing endpoints take the API key, {@code /admin} the admin token. */
    enum Credential {
        API_KEY,
        ADMIN
    }

    static final String USER_AGENT = "rlhf4j-java-client/0.1";
    private static final int MAX_ERROR_BODY = 64 * 1024;

    private final HttpClient http;
    private final URI base;
    private final Duration timeout;
    private final String apiKey;
    private final String adminToken;

    Transport(HttpClient http, URI base, Duration timeout, String apiKey, String adminToken) {
        this.http = http;
        this.base = base;
        this.timeout = timeout;
        this.apiKey = apiKey;
        this.adminToken = adminToken;
    }

    URI base() {
        return base;
    }

    /** A path segment (a version, a run id, a user id), escaped so that '/' or '?' in it cannot change the route. */
    static String segment(String s) {
        if (s == null || s.isEmpty()) {
            throw new IllegalArgumentException("a path segment must not be null or empty");
        }
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String query(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Sends one request and returns the answer's JSON, or null for an empty answer (204). */
    JsonNode call(String method, String path, JsonNode body, Credential credential) {
        String what = method + " /" + path;
        HttpRequest.Builder b = request(path, credential).header("accept", "application/json");
        if (body != null) {
            b.header("content-type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(write(body), StandardCharsets.UTF_8));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> r = exchange(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8), what);
        if (r.statusCode() / 100 != 2) {
            throw error(what, r.statusCode(), r.headers(), r.body());
        }
        String text = r.body();
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw Rlhf4jException.protocol(
                    what + " answered " + r.statusCode() + " with a body that is not JSON: " + snippet(text));
        }
    }

    /**
     * Posts {@code body} and hands each server-sent event's JSON to {@code onEvent} until {@code data: [DONE]}.
     * Returns only after [DONE]: a stream that ends without it lost its tail, which is an error, not a
     * short answer. An exception from {@code onEvent} closes the connection (the server then cancels the
     * generation) and propagates unchanged.
     */
    void stream(String path, JsonNode body, Credential credential, Consumer<JsonNode> onEvent) {
        String what = "POST /" + path;
        HttpRequest req = request(path, credential)
                .header("accept", "text/event-stream")
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(write(body), StandardCharsets.UTF_8))
                .build();
        HttpResponse<InputStream> r = exchange(req, HttpResponse.BodyHandlers.ofInputStream(), what);
        try (InputStream in = r.body()) {
            if (r.statusCode() / 100 != 2) {
                String text = new String(in.readNBytes(MAX_ERROR_BODY), StandardCharsets.UTF_8);
                throw error(what, r.statusCode(), r.headers(), text);
            }
            String type = r.headers().firstValue("content-type").orElse("");
            if (!type.toLowerCase(java.util.Locale.ROOT).startsWith("text/event-stream")) {
                String text = new String(in.readNBytes(MAX_ERROR_BODY), StandardCharsets.UTF_8);
                throw Rlhf4jException.protocol(what + " answered " + r.statusCode() + " with '" + type
                        + "' instead of a text/event-stream: " + snippet(text));
            }
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            StringBuilder data = null;
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.isEmpty()) {
                    if (data != null && dispatch(what, data.toString(), onEvent)) {
                        return;
                    }
                    data = null;
                    continue;
                }
                if (line.startsWith(":")) {
                    continue; // an SSE comment (keep-alive)
                }
                int colon = line.indexOf(':');
                String field = colon < 0 ? line : line.substring(0, colon);
                String value = colon < 0 ? "" : line.substring(colon + 1);
                if (value.startsWith(" ")) {
                    value = value.substring(1);
                }
                if ("data".equals(field)) {
                    data = data == null
                            ? new StringBuilder(value)
                            : data.append('\n').append(value);
                }
            }
            if (data != null && dispatch(what, data.toString(), onEvent)) {
                return;
            }
            throw Rlhf4jException.protocol(
                    what + ": the stream ended before 'data: [DONE]'; what arrived may be " + "incomplete");
        } catch (IOException e) {
            throw new Rlhf4jException(
                    0,
                    null,
                    null,
                    null,
                    null,
                    null,
                    what + ": the stream from " + base + " broke: " + e.getMessage(),
                    e);
        }
    }

    /** One event; true when it is the terminating [DONE]. */
    private static boolean dispatch(String what, String data, Consumer<JsonNode> onEvent) {
        if ("[DONE]".equals(data.trim())) {
            return true;
        }
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(data);
        } catch (JsonProcessingException e) {
            throw Rlhf4jException.protocol(what + ": an event of the stream is not JSON: " + snippet(data));
        }
        if (node != null && node.has("error")) {
            // The status (200) went out before the failure: the error travels as the last event.
            throw fromErrorBody(what, 0, node, null, "failed mid-stream");
        }
        onEvent.accept(node);
        return false;
    }

    private HttpRequest.Builder request(String path, Credential credential) {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(base.resolve(path)).timeout(timeout).header("user-agent", USER_AGENT);
        String secret = credential == Credential.ADMIN ? adminToken : apiKey;
        if (secret != null) {
            b.header("authorization", "Bearer " + secret);
        }
        return b;
    }

    private <T> HttpResponse<T> exchange(HttpRequest req, HttpResponse.BodyHandler<T> handler, String what) {
        try {
            return http.send(req, handler);
        } catch (HttpTimeoutException e) {
            throw new Rlhf4jException(
                    0,
                    null,
                    null,
                    null,
                    null,
                    null,
                    what + ": no answer from " + base + " within " + human(timeout) + " (the client's timeout)",
                    e);
        } catch (ConnectException e) {
            throw new Rlhf4jException(
                    0,
                    null,
                    null,
                    null,
                    null,
                    null,
                    what + ": cannot connect to " + base + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                    e);
        } catch (IOException e) {
            throw new Rlhf4jException(
                    0, null, null, null, null, null, what + ": I/O error talking to " + base + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Rlhf4jException(
                    0, null, null, null, null, null, what + ": interrupted while waiting for " + base, e);
        }
    }

    private static Rlhf4jException error(String what, int status, HttpHeaders headers, String body) {
        Duration retryAfter =
                headers.firstValue("retry-after").map(Transport::retryAfter).orElse(null);
        JsonNode node = null;
        try {
            node = body == null || body.isBlank() ? null : Json.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            // a proxy's HTML page, say: reported below as text
        }
        if (node != null && node.has("error")) {
            return fromErrorBody(what, status, node, retryAfter, "failed with " + status);
        }
        String text = body == null || body.isBlank() ? "(no body)" : snippet(body);
        return new Rlhf4jException(
                status,
                null,
                null,
                null,
                body == null || body.isBlank() ? null : text,
                retryAfter,
                what + " failed with " + status + ": " + text,
                null);
    }

    private static Rlhf4jException fromErrorBody(
            String what, int status, JsonNode node, Duration retryAfter, String failed) {
        JsonNode e = node.get("error");
        String message;
        String type = null;
        String param = null;
        String code = null;
        if (e.isObject()) {
            message = text(e, "message");
            type = text(e, "type");
            param = text(e, "param");
            code = text(e, "code");
        } else {
            message = e.isTextual() ? e.asText() : e.toString();
        }
        StringBuilder m = new StringBuilder(what).append(' ').append(failed);
        if (code != null) {
            m.append(" (").append(code).append(')');
        } else if (type != null) {
            m.append(" (").append(type).append(')');
        }
        if (param != null) {
            m.append(", param '").append(param).append('\'');
        }
        m.append(": ").append(message == null ? "no message" : message);
        if (retryAfter != null) {
            m.append(" [retry after ").append(human(retryAfter)).append(']');
        }
        return new Rlhf4jException(status, type, param, code, message, retryAfter, m.toString(), null);
    }

    private static String text(JsonNode o, String field) {
        JsonNode v = o.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    /** {@code Retry-After} is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
    static Duration retryAfter(String value) {
        String v = value.trim();
        try {
            long seconds = Long.parseLong(v);
            return seconds < 0 ? null : Duration.ofSeconds(seconds);
        } catch (NumberFormatException e) {
            try {
                Duration d = Duration.between(
                        ZonedDateTime.now(), ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME));
                return d.isNegative() ? Duration.ZERO : d;
            } catch (DateTimeParseException e2) {
                return null;
            }
        }
    }

    private static String write(JsonNode body) {
        try {
            return Json.MAPPER.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON tree", e);
        }
    }

    private static String snippet(String s) {
        String t = s.strip();
        return t.length() <= 300 ? t : t.substring(0, 300) + "...";
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
