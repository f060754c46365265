package io.rlhf4j.serving;

import io.rlhf4j.exporter.Exporter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/** What the serving tests share: quiet exports of real checkpoints, and a server on the demo model. */
final class TestServers {

    static final Path DEMO = Path.of("..", "demo", "base-model");

    private TestServers() {}

    /** Exports {@code checkpoint} (a reward model too when {@code reward}) to {@code out}, unoptimised. */
    static Path export(Path checkpoint, Path out, boolean reward) throws IOException {
        new Exporter(new PrintStream(OutputStream.nullOutputStream()))
                .export(new Exporter.Options(checkpoint, out, reward, false, 1e-4, 2, 1L << 30, false));
        return out;
    }

    /**
     * A server on loopback (any free port) with its store under {@code tmp/data}, serving the demo model
     * exported to {@code tmp/export} as version 1.
     */
    static ServingApp startDemo(Path tmp, String adminToken) throws IOException {
        return startDemoWith(
                tmp, ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken(adminToken));
    }

    /** As {@link #startDemo(Path, String)}, with the given configuration. */
    static ServingApp startDemoWith(Path tmp, ServingApp.Config config) throws IOException {
        return startDemoWith(tmp, config, java.time.Clock.systemUTC());
    }

    /** As {@link #startDemoWith(Path, ServingApp.Config)}, running by {@code clock}. */
    static ServingApp startDemoWith(Path tmp, ServingApp.Config config, java.time.Clock clock) throws IOException {
        Path export = export(DEMO, tmp.resolve("export"), false);
        ServingApp app = ServingApp.start(config, clock);
        app.registerAndActivate(export);
        return app;
    }

    static String base(ServingApp app) {
        return "http://127.0.0.1:" + app.port();
    }

    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();

    /** A JSON request to {@code base + path} with an optional body and bearer token; the answer as text. */
    static java.net.http.HttpResponse<String> send(String base, String method, String path, String body, String bearer)
            throws IOException, InterruptedException {
        java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + path))
                .timeout(java.time.Duration.ofSeconds(120))
                .header("content-type", "application/json")
                .method(
                        method,
                        body == null
                                ? java.net.http.HttpRequest.BodyPublishers.noBody()
                                : java.net.http.HttpRequest.BodyPublishers.ofString(body));
        if (bearer != null) {
            b.header("authorization", "Bearer " + bearer);
        }
        return HTTP.send(b.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    /** One streamed completion as a client sees it: status, [DONE] or not, the versions its chunks name. */
    record Streamed(int status, boolean done, java.util.Set<String> models, String header) {}

    /** Streams {@code body} (a {@code /v1/completions} request with {@code "stream": true}) to {@code base}. */
    static Streamed stream(String base, String body, String bearer) throws IOException, InterruptedException {
        java.net.http.HttpResponse<String> r = send(base, "POST", "/v1/completions", body, bearer);
        java.util.Set<String> models = new java.util.HashSet<>();
        boolean done = false;
        for (String line : r.body().lines().toList()) {
            if (line.equals("data: [DONE]")) {
                done = true;
            } else if (line.startsWith("data: ")) {
                com.fasterxml.jackson.databind.JsonNode chunk =
                        io.rlhf4j.core.io.Json.MAPPER.readTree(line.substring(6));
                models.add(chunk.has("model") ? chunk.get("model").asText() : "error:" + chunk);
            }
        }
        return new Streamed(
                r.statusCode(),
                done,
                models,
                r.headers().firstValue("x-rlhf4j-version").orElse(null));
    }
}
