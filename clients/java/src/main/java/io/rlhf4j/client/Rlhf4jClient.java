package io.rlhf4j.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A typed client for an rlhf4j server: completions and chat (plain and streamed), models, rewards, consent, and
 * the {@link #labeling() labeling} and {@link #admin() admin} APIs.
 *
 * <p>Built on the JDK's {@link HttpClient} and Jackson only, so it adds no HTTP stack to an application.
 * Immutable and thread-safe: build one per server and share it. Calls block the calling thread; there are
 * no hidden retries (see {@link Rlhf4jException#retryAfter()}).
 *
 * <pre>{@code
 * Rlhf4jClient client = Rlhf4jClient.builder().baseUrl("http://127.0.0.1:8080").apiKey(key).build();
 * Completion c = client.complete(CompletionRequest.builder().prompt("dog (noun):").maxTokens(12)
 *         .temperature(0).build());
 * client.stream(request, chunk -> System.out.print(chunk.text()));
 * }</pre>
 */
public final class Rlhf4jClient {

    /** Where {@code rlhf4j serve} listens by default. */
    public static final URI DEFAULT_BASE_URL = URI.create("http://127.0.0.1:8080/");
    /** Long enough for a long greedy completion on a CPU; streamed completions only wait this long for their first token. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private final Transport transport;
    private final LabelingClient labeling;
    private final AdminClient admin;

    private Rlhf4jClient(Transport transport, String labeler) {
        this.transport = transport;
        this.labeling = new LabelingClient(transport, labeler);
        this.admin = new AdminClient(transport);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The server's root, as requests resolve against it. */
    public URI baseUrl() {
        return transport.base();
    }

    /**
     * Generates and waits for the whole answer (every choice). The timeout covers the generation, so give
     * long completions a generous {@link Builder#timeout(Duration)}, or {@link #stream stream} them.
     */
    public Completion complete(CompletionRequest request) {
        Objects.requireNonNull(request, "request");
        return Json.read(
                transport.call("POST", "v1/completions", request.toJson(false), Transport.Credential.API_KEY),
                Completion.class,
                "POST /v1/completions");
    }

    /**
     * Generates and hands each piece to {@code onChunk} as the server produces it, on the calling thread,
     * returning once the server has sent {@code [DONE]} (after it logged the request). A callback that
     * throws ends the call: the connection is closed, the server cancels the generation, and the
     * exception propagates unchanged; so does breaking out early on purpose.
     *
     * <p>The client's timeout bounds the wait for the first piece only: a long generation that keeps
     * producing is not cut off.
     *
     * @throws Rlhf4jException for a refusal (non-2xx), a failure reported mid-stream (status 0 with the
     *     server's type and code), or a stream that ends without {@code [DONE]}
     */
    public void stream(CompletionRequest request, Consumer<CompletionChunk> onChunk) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(onChunk, "onChunk");
        transport.stream(
                "v1/completions",
                request.toJson(true),
                Transport.Credential.API_KEY,
                node -> onChunk.accept(Json.read(node, CompletionChunk.class, "POST /v1/completions (stream)")));
    }

    /** Answers a conversation (rendered by the served model's chat template) and waits for every reply. */
    public ChatCompletion chat(ChatRequest request) {
        Objects.requireNonNull(request, "request");
        return Json.read(
                transport.call("POST", "v1/chat/completions", request.toJson(false), Transport.Credential.API_KEY),
                ChatCompletion.class,
                "POST /v1/chat/completions");
    }

    /**
     * Streams the reply to a conversation as {@link #stream} streams completions: each chunk to
     * {@code onChunk} on the calling thread, the last one carrying the usage.
     */
    public void streamChat(ChatRequest request, Consumer<ChatCompletionChunk> onChunk) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(onChunk, "onChunk");
        transport.stream(
                "v1/chat/completions",
                request.toJson(true),
                Transport.Credential.API_KEY,
                node -> onChunk.accept(
                        Json.read(node, ChatCompletionChunk.class, "POST /v1/chat/completions (stream)")));
    }

    /** Every registered model version, with the active policy marked. */
    public List<Model> models() {
        return Json.readList(
                transport.call("GET", "v1/models", null, Transport.Credential.API_KEY),
                "data",
                Model.class,
                "GET /v1/models");
    }

    /**
     * Scores completions of one prompt with the active reward model (404, code {@code model_not_found}, when
     * none is active).
     */
    public Rewards rewards(String prompt, List<String> completions) {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(completions, "completions");
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("prompt", prompt);
        completions.forEach(body.putArray("completions")::add);
        JsonNode node = transport.call("POST", "v1/rewards", body, Transport.Credential.API_KEY);
        return parseRewards(node);
    }

    /**
     * Reads both shapes a server may answer: {@code {"model", "rewards": [r, ...]}} (the documented one) and
     * {@code {"model", "data": [{"index", "reward"}, ...]}} (OpenAI-style list, which servers of this
     * version send).
     */
    private static Rewards parseRewards(JsonNode node) {
        if (node == null) {
            throw Rlhf4jException.protocol("the server's answer to POST /v1/rewards has no body");
        }
        String model = node.path("model").isTextual() ? node.get("model").asText() : null;
        List<Double> rewards = new ArrayList<>();
        if (node.path("rewards").isArray()) {
            node.get("rewards").forEach(r -> rewards.add(r.asDouble()));
        } else if (node.path("data").isArray()) {
            List<JsonNode> data = new ArrayList<>();
            node.get("data").forEach(data::add);
            data.sort(Comparator.comparingInt(d -> d.path("index").asInt()));
            data.forEach(d -> rewards.add(d.path("reward").asDouble()));
        } else {
            throw Rlhf4jException.protocol(
                    "the server's answer to POST /v1/rewards has neither 'rewards' nor " + "'data': " + node);
        }
        return new Rewards(model, Collections.unmodifiableList(rewards));
    }

    /**
     * Opts the calling user out of training, or back in: it applies to their prompts already stored and
     * to those that follow.
     */
    public Consent consent(boolean trainingConsent) {
        return consent(null, trainingConsent);
    }

    /**
     * {@link #consent(boolean)} for a named user: a service key that may set users changes its users'
     * consent this way, and in open mode this is how to name the user at all.
     */
    public Consent consent(String user, boolean trainingConsent) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("training_consent", trainingConsent);
        if (user != null) {
            body.put("user", user);
        }
        return Json.read(
                transport.call("PUT", "v1/consent", body, Transport.Credential.API_KEY),
                Consent.class,
                "PUT /v1/consent");
    }

    /** The labeling API, with this client's API key and labeler. */
    public LabelingClient labeling() {
        return labeling;
    }

    /** The admin API, with this client's admin token. */
    public AdminClient admin() {
        return admin;
    }

    @Override
    public String toString() {
        return "Rlhf4jClient[" + transport.base() + "]"; // never the secrets
    }

    /** Configures a {@link Rlhf4jClient}; every setting is optional. */
    public static final class Builder {
        private URI baseUrl = DEFAULT_BASE_URL;
        private String apiKey;
        private String adminToken;
        private String labeler;
        private Duration timeout = DEFAULT_TIMEOUT;
        private HttpClient httpClient;

        private Builder() {}

        /**
         * The server's root, e.g. {@code http://127.0.0.1:8080}. An OpenAI-style base URL ending in
         * {@code /v1} is accepted too, since the admin API lives beside {@code /v1}, not under it. A path
         * prefix (a server behind a reverse proxy at {@code /rlhf4j/}) is kept.
         */
        public Builder baseUrl(URI baseUrl) {
            Objects.requireNonNull(baseUrl, "baseUrl");
            String scheme = baseUrl.getScheme();
            if (scheme == null
                    || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))
                    || baseUrl.getHost() == null) {
                throw new IllegalArgumentException("the base URL must be an absolute http(s) URL, got " + baseUrl);
            }
            if (baseUrl.getQuery() != null || baseUrl.getFragment() != null) {
                throw new IllegalArgumentException("the base URL must not have a query or fragment: " + baseUrl);
            }
            String path = baseUrl.getPath() == null ? "" : baseUrl.getPath();
            while (path.endsWith("/")) {
                path = path.substring(0, path.length() - 1);
            }
            if (path.endsWith("/v1")) {
                path = path.substring(0, path.length() - 3);
            }
            this.baseUrl = URI.create(baseUrl.getScheme() + "://" + baseUrl.getRawAuthority() + path + "/");
            return this;
        }

        /** {@link #baseUrl(URI)} from a string. */
        public Builder baseUrl(String baseUrl) {
            return baseUrl(URI.create(Objects.requireNonNull(baseUrl, "baseUrl").trim()));
        }

        /** The API key for completions, models, rewards, consent and labeling; none for a server in open mode. */
        public Builder apiKey(String apiKey) {
            this.apiKey = blankToNull(apiKey);
            return this;
        }

        /** The token for {@link Rlhf4jClient#admin()}: the server's {@code RLHF4J_ADMIN_TOKEN}. */
        public Builder adminToken(String adminToken) {
            this.adminToken = blankToNull(adminToken);
            return this;
        }

        /**
         * Who is labeling, sent with every labeling call. Only a server in open mode (no API keys) reads it;
         * with keys the labeler is the key's user.
         */
        public Builder labeler(String labeler) {
            this.labeler = blankToNull(labeler);
            return this;
        }

        /**
         * How long a call waits for the server's answer (for a stream: its first piece); also the connect
         * timeout of the HTTP client this builder creates. Default {@link #DEFAULT_TIMEOUT}.
         */
        public Builder timeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the timeout must be positive, got " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /**
         * An HTTP client to use instead of a new one, for a proxy, TLS settings or an executor of one's own;
         * its connect timeout is its own.
         */
        public Builder httpClient(HttpClient httpClient) {
            this.httpClient = Objects.requireNonNull(httpClient, "httpClient");
            return this;
        }

        public Rlhf4jClient build() {
            HttpClient http = httpClient != null
                    ? httpClient
                    : HttpClient.newBuilder()
                            // The server speaks HTTP/1.1; this skips the h2c upgrade attempt on plain http.
                            .version(HttpClient.Version.HTTP_1_1)
                            .connectTimeout(timeout)
                            .followRedirects(HttpClient.Redirect.NEVER)
                            .build();
            return new Rlhf4jClient(new Transport(http, baseUrl, timeout, apiKey, adminToken), labeler);
        }

        private static String blankToNull(String s) {
            return s == null || s.isBlank() ? null : s.trim();
        }
    }
}
