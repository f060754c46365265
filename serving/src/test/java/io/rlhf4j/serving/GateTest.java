package io.rlhf4j.serving;

import static io.rlhf4j.serving.LabelingApiTest.assertError;
import static io.rlhf4j.serving.LabelingApiTest.expect;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation gate guards promotion (docs/api.md): a version whose export carries a failed gate
 * ({@code gate.json} next to the checkpoint, embedded by the exporter into the manifest) is refused
 * with 409 {@code gate_failed} unless the admin forces it, and a forced promotion is audited; a version
 * whose gate passed, or that has none, promotes as usual.
 */
class GateTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final String ADMIN = "t";
    static final String FAILED = "{\"passed\": false, \"reason\": \"win rate 0.31 is below 0.5\", \"win_rate\": 0.31}";
    static final String PASSED =
            "{\"passed\": true, \"reason\": \"win rate 0.62 is at least 0.5\", \"win_rate\": 0.62}";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;
    static Path failing;
    static Path passing;

    @BeforeAll
    static void start() throws Exception {
        Path demo = Path.of("..", "demo", "base-model");
        Path plain = export(demo, "export-plain");
        failing = export(withGate(demo, "failing", FAILED), "export-failing");
        passing = export(withGate(demo, "passing", PASSED), "export-passing");
        app = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken(ADMIN));
        app.registerAndActivate(plain);
        base = "http://127.0.0.1:" + app.port();
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
    }

    @Test
    void theExporterCarriesGateJsonIntoTheManifestAndTheRegistry() throws Exception {
        assertThat(JSON.readTree(failing.resolve("manifest.json").toFile()).get("gate"))
                .isEqualTo(JSON.readTree(FAILED));
        String v = register(failing);
        JsonNode listed = version(v);
        assertThat(listed.get("state").asText()).isEqualTo("registered");
        assertThat(listed.get("manifest").get("gate")).isEqualTo(JSON.readTree(FAILED));
        assertThat(version("1").get("manifest").has("gate"))
                .as("an export without gate.json has no gate")
                .isFalse();
    }

    @Test
    void aVersionWhoseGateFailedIsRefusedUnlessForcedAndTheForcedPromotionIsAudited() throws Exception {
        String v = register(failing);
        String active = active();
        int auditBefore = app.store().audit().entries().size();

        for (String query : List.of("", "?force=false", "?force=yes")) {
            HttpResponse<String> refused = promote(v, query);
            assertError(refused, 409, "version", "gate_failed");
            assertThat(JSON.readTree(refused.body()).get("error").get("message").asText())
                    .contains("win rate 0.31 is below 0.5")
                    .contains("force=true");
            assertThat(active()).as("still serving after " + query).isEqualTo(active);
            assertThat(version(v).get("active").asBoolean()).isFalse();
        }
        assertThat(app.store().audit().entries())
                .as("a refusal is not an override")
                .hasSize(auditBefore);
        HttpResponse<String> stillOld = complete();
        assertThat(JSON.readTree(stillOld.body()).get("model").asText()).isEqualTo(active);

        JsonNode forced = JSON.readTree(expect(200, promote(v, "?force=true")).body());
        assertThat(forced.get("active").asText()).isEqualTo(v);
        assertThat(forced.get("previous").asText()).isEqualTo(active);
        assertThat(active()).isEqualTo(v);
        assertThat(JSON.readTree(complete().body()).get("model").asText()).isEqualTo(v);

        List<String> audit = app.store().audit().entries();
        assertThat(audit).hasSize(auditBefore + 1);
        assertThat(audit.get(audit.size() - 1))
                .contains("forced_promotion")
                .contains("version " + v + " ")
                .contains("win rate 0.31 is below 0.5");
    }

    @Test
    void aVersionWhoseGatePassedPromotesWithoutForceOrAudit() throws Exception {
        String v = register(passing);
        String active = active();
        int auditBefore = app.store().audit().entries().size();
        JsonNode promoted = JSON.readTree(expect(200, promote(v, "")).body());
        assertThat(promoted.get("active").asText()).isEqualTo(v);
        assertThat(promoted.get("previous").asText()).isEqualTo(active);
        assertThat(active()).isEqualTo(v);
        assertThat(JSON.readTree(complete().body()).get("model").asText()).isEqualTo(v);
        assertThat(app.store().audit().entries()).hasSize(auditBefore);
    }

    @Test
    void promotionIsForTheAdminOnly() throws Exception {
        String v = register(failing);
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/admin/models/" + v + "/promote?force=true"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(r, 401, null, "invalid_admin_token");
        assertThat(version(v).get("active").asBoolean()).isFalse();
    }

    // ------------------------------------------------------------------ helpers

    /** A copy of the checkpoint with a gate verdict beside it, as the pipeline's evaluate stage leaves it. */
    static Path withGate(Path checkpoint, String name, String gate) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        try (Stream<Path> files = Files.list(checkpoint)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        Files.writeString(dir.resolve("gate.json"), gate);
        return dir;
    }

    static Path export(Path checkpoint, String name) throws IOException {
        return TestServers.export(checkpoint, tmp.resolve(name), false);
    }

    static String register(Path export) throws Exception {
        HttpResponse<String> r = admin(
                "POST",
                "/admin/versions",
                JSON.createObjectNode()
                        .put("path", export.toAbsolutePath().toString())
                        .toString());
        return JSON.readTree(expect(200, r).body()).get("version").asText();
    }

    static HttpResponse<String> promote(String version, String query) throws Exception {
        return admin("POST", "/admin/models/" + version + "/promote" + query, "");
    }

    static JsonNode version(String v) throws Exception {
        for (JsonNode o : JSON.readTree(
                        expect(200, admin("GET", "/admin/versions", null)).body())
                .get("versions")) {
            if (o.get("version").asText().equals(v)) {
                return o;
            }
        }
        throw new AssertionError("no version " + v);
    }

    static String active() {
        return app.router().current().engine().version();
    }

    static HttpResponse<String> complete() throws Exception {
        return expect(
                200,
                HTTP.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                                .header("content-type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(
                                        "{\"prompt\":\"dog (noun):\",\"max_tokens\":2}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString()));
    }

    static HttpResponse<String> admin(String method, String path, String body) throws Exception {
        return TestServers.send(base, method, path, body, ADMIN);
    }
}
