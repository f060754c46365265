package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.store.PromptLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Open mode until the first key (or on purpose with --open), then keys map to users, with a rate limit
 * each; revoking the last key does not reopen the server.
 */
class AuthTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final String ADMIN = "admin-token";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        app = TestServers.startDemo(tmp, ADMIN);
        base = TestServers.base(app);
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    static HttpResponse<String> complete(String key, String user) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"" + user + "\"}"));
        if (key != null) {
            b.header("authorization", "Bearer " + key);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode newKey(String body) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/admin/keys"))
                        .header("content-type", "application/json")
                        .header("authorization", "Bearer " + ADMIN)
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    static String lastUser() {
        return app.store().prompts().recent(1).stream()
                .map(PromptLog::userId)
                .findFirst()
                .orElseThrow();
    }

    @Test
    void keysMapToUsersAreRateLimitedAndCanBeRevoked() throws Exception {
        // Open mode: no key needed, the user field is recorded as given.
        assertThat(complete(null, "walk-in").statusCode()).isEqualTo(200);
        assertThat(lastUser()).isEqualTo("walk-in");

        JsonNode alice = newKey("{\"user\":\"alice\",\"requests_per_minute\":3}");
        JsonNode service = newKey("{\"user\":\"shop-backend\",\"role\":\"service\",\"may_set_user\":true}");
        assertThat(alice.get("key").asText()).startsWith("rk-");

        HttpResponse<String> none = complete(null, "x");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(none.body()).get("error").get("code").asText()).isEqualTo("invalid_api_key");
        assertThat(complete("rk-not-a-key", "x").statusCode()).isEqualTo(401);

        assertThat(complete(alice.get("key").asText(), "mallory").statusCode()).isEqualTo(200);
        assertThat(lastUser()).as("a user key records its own user").isEqualTo("alice");
        assertThat(complete(service.get("key").asText(), "customer-42").statusCode())
                .isEqualTo(200);
        assertThat(lastUser()).as("a service key may name its users").isEqualTo("customer-42");

        assertThat(complete(alice.get("key").asText(), "a").statusCode()).isEqualTo(200);
        assertThat(complete(alice.get("key").asText(), "a").statusCode()).isEqualTo(200);
        HttpResponse<String> limited = complete(alice.get("key").asText(), "a");
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("retry-after")).isPresent();
        assertThat(JSON.readTree(limited.body()).get("error").get("code").asText())
                .isEqualTo("rate_limit_exceeded");
        assertThat(complete(service.get("key").asText(), "b").statusCode())
                .as("limits are per key")
                .isEqualTo(200);

        HttpResponse<String> revoked = HTTP.send(
                HttpRequest.newBuilder(URI.create(
                                base + "/admin/keys/" + service.get("prefix").asText()))
                        .header("authorization", "Bearer " + ADMIN)
                        .DELETE()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(revoked.statusCode()).isEqualTo(200);
        assertThat(complete(service.get("key").asText(), "b").statusCode()).isEqualTo(401);

        // Revoking the last key locks the server; it does not silently reopen it to everyone.
        assertThat(HTTP.send(
                                HttpRequest.newBuilder(URI.create(base + "/admin/keys/"
                                                + alice.get("prefix").asText()))
                                        .header("authorization", "Bearer " + ADMIN)
                                        .DELETE()
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .statusCode())
                .isEqualTo(200);
        HttpResponse<String> locked = complete(null, "walk-in");
        assertThat(locked.statusCode()).isEqualTo(401);
        assertThat(complete(alice.get("key").asText(), "a").statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(complete(alice.get("key").asText(), "a").body())
                        .at("/error/message")
                        .asText())
                .contains("every key of this server is revoked", "--open");
    }

    @Test
    void openModeOnPurposeNeedsNoKeyEvenWhenKeysExist(@TempDir Path dir) throws Exception {
        ServingApp open = TestServers.startDemoWith(
                dir,
                ServingApp.Config.defaults(dir.resolve("data"))
                        .withPort(0)
                        .withAdminToken(ADMIN)
                        .withOpen(true));
        try {
            open.store()
                    .keys()
                    .create(new io.rlhf4j.core.store.ApiKey(
                            io.rlhf4j.core.store.ApiKey.hash("rk-x"), "rk-x", "bob", "user", false, 60, 0L, null));
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(TestServers.base(open) + "/v1/completions"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"carol\"}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(open.store().prompts().recent(1).get(0).userId()).isEqualTo("carol");
        } finally {
            open.close();
        }
        ServingApp.Config wide = ServingApp.Config.defaults(dir.resolve("wide"))
                .withPort(0)
                .withOpen(true)
                .withHost("0.0.0.0");
        assertThatThrownBy(() -> ServingApp.start(wide))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("--open");
    }

    @Test
    void openModeRefusesToListenBeyondLoopback() {
        ServingApp.Config c = new ServingApp.Config(
                tmp.resolve("other"),
                null,
                null,
                null,
                "0.0.0.0",
                0,
                io.rlhf4j.serving.engine.EngineOptions.cpu(0),
                4,
                4,
                256,
                null,
                io.rlhf4j.serving.loop.LoopOptions.disabled(),
                false,
                io.rlhf4j.serving.config.AdmissionLimits.defaults(),
                io.rlhf4j.serving.cluster.ClusterOptions.single());
        assertThatThrownBy(() -> ServingApp.start(c))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("open mode");
    }
}
