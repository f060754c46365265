package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Promotion and rollback while clients stream without pause, and the admin API's refusals. */
class HotSwapTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final String TOKEN = "s3cret-admin";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;
    static Path v2;

    @BeforeAll
    static void start() throws Exception {
        Path demo = Path.of("..", "demo", "base-model");
        Path v1 = tmp.resolve("v1");
        TestServers.export(demo, v1, false);
        // Version 2: the demo's shape and tokenizer, freshly initialised weights, so its text differs.
        Path ckpt = tmp.resolve("v2-checkpoint");
        ModelConfig config = Checkpoint.readConfig(demo);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 99)) {
            Checkpoint.write(ckpt, config, d.toTensors(), Checkpoint.readTokenizer(demo), null);
        }
        v2 = tmp.resolve("v2");
        TestServers.export(ckpt, v2, false);
        app = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken(TOKEN));
        app.registerAndActivate(v1);
        base = "http://127.0.0.1:" + app.port();
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    static HttpResponse<String> admin(String method, String path, String body, String token) throws Exception {
        return TestServers.send(base, method, path, body, token);
    }

    static TestServers.Streamed stream() throws Exception {
        return TestServers.stream(
                base, "{\"prompt\":\"dog (noun):\",\"max_tokens\":24,\"temperature\":0.8,\"stream\":true}", null);
    }

    @Test
    void promotionAndRollbackUnderLoadLoseNoRequest() throws Exception {
        HttpResponse<String> reg =
                admin("POST", "/admin/versions", "{\"path\":\"" + v2.toString().replace("\\", "/") + "\"}", TOKEN);
        assertThat(reg.statusCode()).as(reg.body()).isEqualTo(200);
        String second = JSON.readTree(reg.body()).get("version").asText();

        AtomicBoolean running = new AtomicBoolean(true);
        ConcurrentLinkedQueue<TestServers.Streamed> results = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        ExecutorService clients = Executors.newFixedThreadPool(4);
        for (int c = 0; c < 4; c++) {
            clients.submit(() -> {
                int sent = 0;
                while (running.get() && sent++ < 500) {
                    try {
                        results.add(stream());
                    } catch (Exception e) {
                        errors.add(e);
                    }
                }
            });
        }
        Thread.sleep(700);
        HttpResponse<String> promoted = admin("POST", "/admin/models/" + second + "/promote", null, TOKEN);
        assertThat(promoted.statusCode()).as(promoted.body()).isEqualTo(200);
        assertThat(JSON.readTree(promoted.body()).get("previous").asText()).isEqualTo("1");
        Thread.sleep(700);
        HttpResponse<String> rolledBack = admin("POST", "/admin/rollback", null, TOKEN);
        assertThat(rolledBack.statusCode()).as(rolledBack.body()).isEqualTo(200);
        assertThat(JSON.readTree(rolledBack.body()).get("active").asText()).isEqualTo("1");
        Thread.sleep(700);
        running.set(false);
        clients.shutdown();
        assertThat(clients.awaitTermination(60, TimeUnit.SECONDS)).isTrue();

        assertThat(errors).isEmpty();
        assertThat(results).hasSizeGreaterThan(8);
        Set<String> served = new HashSet<>();
        for (TestServers.Streamed s : results) {
            assertThat(s.status()).isEqualTo(200);
            assertThat(s.done()).as("stream ended with [DONE]").isTrue();
            assertThat(s.models()).as("one version per response").hasSize(1).containsExactly(s.header());
            served.add(s.header());
        }
        assertThat(served).containsExactlyInAnyOrder("1", second);
        assertThat(app.router().current().engine().version()).isEqualTo("1");

        String metrics = HTTP.send(
                        HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
        assertThat(metrics)
                .contains("rlhf4j_request_seconds_count")
                .contains("rlhf4j_time_to_first_token_seconds")
                .contains("rlhf4j_generated_tokens_total")
                .contains("rlhf4j_queue_depth")
                .contains("rlhf4j_active_version{version=\"1\"} 1.0")
                .contains("rlhf4j_active_version{version=\"" + second + "\"} 0.0");
    }

    @Test
    void theAdminApiRefusesWhatItShould() throws Exception {
        assertThat(admin("GET", "/admin/versions", null, null).statusCode()).isEqualTo(401);
        assertThat(admin("GET", "/admin/versions", null, "wrong").statusCode()).isEqualTo(401);
        HttpResponse<String> list = admin("GET", "/admin/versions", null, TOKEN);
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(list.body())
                        .get("versions")
                        .get(0)
                        .get("manifest")
                        .get("opset")
                        .asInt())
                .isEqualTo(17);

        assertThat(admin("POST", "/admin/models/404/promote", null, TOKEN).statusCode())
                .isEqualTo(404);
        HttpResponse<String> active = admin(
                "DELETE", "/admin/models/" + app.router().current().engine().version(), null, TOKEN);
        assertThat(active.statusCode()).isEqualTo(409);
        assertThat(active.body()).contains("is active");

        // A version whose graph is broken fails to load; the active one keeps serving.
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        try (var files = Files.list(v2)) {
            for (Path f : files.toList()) {
                Files.copy(f, broken.resolve(f.getFileName()));
            }
        }
        Files.write(broken.resolve("policy.onnx"), new byte[] {1, 2, 3});
        String bad = JSON.readTree(admin("POST", "/admin/versions", "{\"path\":\"" + broken + "\"}", TOKEN)
                        .body())
                .get("version")
                .asText();
        String before = app.router().current().engine().version();
        HttpResponse<String> failed = admin("POST", "/admin/models/" + bad + "/promote", null, TOKEN);
        assertThat(failed.statusCode()).isEqualTo(409);
        assertThat(failed.body()).contains("failed to load").contains("is still serving");
        assertThat(app.router().current().engine().version()).isEqualTo(before);
        assertThat(stream().status()).isEqualTo(200);

        assertThat(admin("DELETE", "/admin/models/" + bad, null, TOKEN).statusCode())
                .isEqualTo(200);
        HttpResponse<String> gone = admin("POST", "/admin/models/" + bad + "/promote", null, TOKEN);
        assertThat(gone.statusCode()).isEqualTo(409);
        assertThat(gone.body()).contains("unregistered");
    }

    @Test
    void theOfficialOpenAiJavaClientWorksUnchanged() {
        var client = com.openai.client.okhttp.OpenAIOkHttpClient.builder()
                .baseUrl(base + "/v1")
                .apiKey("unused")
                .build();
        var params = com.openai.models.completions.CompletionCreateParams.builder()
                .model("rlhf4j")
                .prompt("dog (noun):")
                .maxTokens(12)
                .temperature(0.0)
                .build();
        var completion = client.completions().create(params);
        String text = completion.choices().get(0).text();
        assertThat(text).isNotEmpty();
        assertThat(completion.usage()).isPresent();
        StringBuilder streamed = new StringBuilder();
        try (var stream = client.completions().createStreaming(params)) {
            stream.stream().forEach(chunk -> chunk.choices().forEach(c -> streamed.append(c.text())));
        }
        assertThat(streamed.toString()).isEqualTo(text);
        var models = client.models().list();
        assertThat(models.data()).isNotEmpty();
    }
}
