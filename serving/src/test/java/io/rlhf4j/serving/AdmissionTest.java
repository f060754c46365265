package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.serving.config.AdmissionLimits;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one caller may take of the server, and what the server does when the store cannot keep up: the
 * cost limits per caller (requests in progress, tokens a minute), a full prompt-log queue answered 503
 * before generating, and a streaming client that stops reading cut off instead of buffered without
 * bound. Fair queueing across callers is {@code WaitQueueTest}'s.
 */
class AdmissionTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static ServingApp start(Path tmp, AdmissionLimits limits, java.time.Clock clock) throws Exception {
        return TestServers.startDemoWith(
                tmp, ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdmission(limits), clock);
    }

    static HttpRequest completion(ServingApp app, String body) {
        return HttpRequest.newBuilder(URI.create(TestServers.base(app) + "/v1/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    static HttpResponse<String> send(ServingApp app, String body) throws Exception {
        return HTTP.send(completion(app, body), HttpResponse.BodyHandlers.ofString());
    }

    static String code(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).at("/error/code").asText();
    }

    /** Holds SQLite's write lock from another connection, as a slow or stuck store would. */
    static Connection lockStore(Path tmp) throws Exception {
        Connection c = DriverManager.getConnection(
                "jdbc:sqlite:" + tmp.resolve("data").resolve("rlhf4j.db").toAbsolutePath());
        try (Statement s = c.createStatement()) {
            s.execute("BEGIN EXCLUSIVE");
        }
        return c;
    }

    static void unlock(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("ROLLBACK");
        }
        c.close();
    }

    @Test
    void aFullPromptLogQueueAnswers503BeforeGeneratingAndLosesNothingQueued(@TempDir Path tmp) throws Exception {
        ServingApp app = start(tmp, AdmissionLimits.defaults().withLogQueue(2), java.time.Clock.systemUTC());
        try {
            assertThat(send(app, "{\"prompt\":\"dog\",\"max_tokens\":2}").statusCode())
                    .isEqualTo(200);
            long before = app.store().prompts().count();
            Connection lock = lockStore(tmp);
            List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
            List<HttpResponse<String>> refused = new ArrayList<>();
            try {
                // The first log is taken by the writer (which then waits on the lock), the next two fill
                // the queue of two; after that there is no room.
                for (int i = 0; i < 6; i++) {
                    CompletableFuture<HttpResponse<String>> f = HTTP.sendAsync(
                            completion(app, "{\"prompt\":\"cat\",\"max_tokens\":2,\"user\":\"u" + i + "\"}"),
                            HttpResponse.BodyHandlers.ofString());
                    Thread.sleep(300);
                    if (f.isDone()) {
                        refused.add(f.join());
                    } else {
                        held.add(f);
                    }
                }
                assertThat(held).hasSize(3);
                assertThat(refused).hasSize(3);
                for (HttpResponse<String> r : refused) {
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
                    assertThat(r.headers().firstValue("retry-after")).hasValue("1");
                    assertThat(JSON.readTree(r.body()).at("/error/message").asText())
                            .contains("prompt log is backed up");
                }
            } finally {
                unlock(lock);
            }
            for (CompletableFuture<HttpResponse<String>> f : held) {
                assertThat(f.join().statusCode()).isEqualTo(200);
            }
            assertThat(app.store().prompts().count()).isEqualTo(before + 3);
        } finally {
            app.close();
        }
    }

    @Test
    void oneCallerMayHaveOnlySoManyRequestsInProgress(@TempDir Path tmp) throws Exception {
        ServingApp app = start(tmp, AdmissionLimits.defaults().withConcurrentPerKey(1), java.time.Clock.systemUTC());
        try {
            assertThat(send(app, "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"ann\"}")
                            .statusCode())
                    .isEqualTo(200);
            Connection lock = lockStore(tmp);
            CompletableFuture<HttpResponse<String>> first;
            CompletableFuture<HttpResponse<String>> other;
            try {
                // Held in progress: generated, waiting for its log to commit.
                first = HTTP.sendAsync(
                        completion(app, "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"ann\"}"),
                        HttpResponse.BodyHandlers.ofString());
                Thread.sleep(300);
                assertThat(first).isNotDone();
                HttpResponse<String> second = send(app, "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"ann\"}");
                assertThat(second.statusCode()).as(second.body()).isEqualTo(429);
                assertThat(code(second)).isEqualTo("too_many_concurrent_requests");
                assertThat(second.headers().firstValue("retry-after")).isPresent();
                other = HTTP.sendAsync(
                        completion(app, "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"bob\"}"),
                        HttpResponse.BodyHandlers.ofString());
                Thread.sleep(300);
                assertThat(other)
                        .as("another caller is not limited by ann's requests")
                        .isNotDone();
            } finally {
                unlock(lock);
            }
            assertThat(first.join().statusCode()).isEqualTo(200);
            assertThat(other.join().statusCode()).isEqualTo(200);
            assertThat(send(app, "{\"prompt\":\"dog\",\"max_tokens\":2,\"user\":\"ann\"}")
                            .statusCode())
                    .as("the slot is free again once the request ended")
                    .isEqualTo(200);
        } finally {
            app.close();
        }
    }

    @Test
    void aCallerHasATokenBudgetPerMinute(@TempDir Path tmp) throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T10:00:00Z"));
        ServingApp app = start(tmp, AdmissionLimits.defaults().withTokensPerMinutePerKey(100), clock);
        try {
            // "dog" is one token after BOS; each request may cost its prompt plus 40 new tokens.
            String body = "{\"prompt\":\"dog\",\"max_tokens\":40,\"user\":\"ann\"}";
            assertThat(send(app, body).statusCode()).isEqualTo(200);
            assertThat(send(app, body).statusCode()).isEqualTo(200);
            HttpResponse<String> over = send(app, body);
            assertThat(over.statusCode()).as(over.body()).isEqualTo(429);
            assertThat(code(over)).isEqualTo("rate_limit_exceeded");
            assertThat(JSON.readTree(over.body()).at("/error/message").asText()).contains("token budget of 100");
            assertThat(Long.parseLong(over.headers().firstValue("retry-after").orElseThrow()))
                    .isBetween(1L, 60L);
            assertThat(send(app, body.replace("ann", "bob")).statusCode())
                    .as("budgets are per caller")
                    .isEqualTo(200);
            clock.advance(Duration.ofSeconds(60));
            assertThat(send(app, body).statusCode()).isEqualTo(200);

            HttpResponse<String> huge = send(app, "{\"prompt\":\"dog\",\"max_tokens\":60,\"n\":2,\"user\":\"cy\"}");
            assertThat(huge.statusCode())
                    .as("more than a whole minute's budget can never pass")
                    .isEqualTo(400);
            assertThat(JSON.readTree(huge.body()).at("/error/param").asText()).isEqualTo("max_tokens");
        } finally {
            app.close();
        }
    }

    @Test
    void completionsPerRequestAreBoundedAsConfigured(@TempDir Path tmp) throws Exception {
        ServingApp app =
                start(tmp, AdmissionLimits.defaults().withCompletionsPerRequest(4), java.time.Clock.systemUTC());
        try {
            HttpResponse<String> r = send(app, "{\"prompt\":[\"a\",\"b\"],\"n\":3,\"max_tokens\":2}");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(JSON.readTree(r.body()).at("/error/message").asText()).contains("6 completions", "at most 4");
            assertThat(send(app, "{\"prompt\":[\"a\",\"b\"],\"n\":2,\"max_tokens\":2}")
                            .statusCode())
                    .isEqualTo(200);
            HttpResponse<String> chat = HTTP.send(
                    HttpRequest.newBuilder(URI.create(TestServers.base(app) + "/v1/chat/completions"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"messages\":[{\"role\":\"user\",\"content\":\"dog\"}],\"n\":5}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(chat.statusCode()).as("chat too").isEqualTo(400);
        } finally {
            app.close();
        }
    }

    @Test
    void aStreamWhoseClientStopsReadingIsCutOffNotBuffered(@TempDir Path tmp) throws Exception {
        ServingApp app =
                start(tmp, AdmissionLimits.defaults().withStreamBufferBytes(16 * 1024), java.time.Clock.systemUTC());
        try {
            StringBuilder prompts = new StringBuilder();
            for (int i = 0; i < 64; i++) {
                prompts.append(i == 0 ? "" : ",").append("\"the dog\"");
            }
            String body = "{\"prompt\":[" + prompts + "],\"n\":4,\"max_tokens\":100,\"logprobs\":5,"
                    + "\"ignore_eos\":true,\"stream\":true,\"seed\":1}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            try (Socket socket = new Socket()) {
                socket.setReceiveBufferSize(4096);
                socket.connect(new InetSocketAddress("127.0.0.1", app.port()));
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:" + app.port()
                                + "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: "
                                + bytes.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(bytes);
                out.flush();
                // The client reads nothing while the server generates.
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (app.metrics().slowStreams() < 1 && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                socket.setSoTimeout(10_000);
                String got = new String(readAll(socket.getInputStream()), StandardCharsets.UTF_8);
                assertThat(app.metrics().slowStreams())
                        .as(
                                "the stream was cut; the client got %d bytes: %s",
                                got.length(), got.substring(0, Math.min(400, got.length())))
                        .isEqualTo(1.0);
                assertThat(got).startsWith("HTTP/1.1 200").doesNotContain("data: [DONE]");
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (app.router().current().inFlight() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(app.router().current().inFlight())
                    .as("its generation was cancelled")
                    .isZero();
            assertThat(app.store().prompts().count())
                    .as("a cut stream is not logged")
                    .isZero();
            assertThat(send(app, "{\"prompt\":\"dog\",\"max_tokens\":2}").statusCode())
                    .isEqualTo(200);
        } finally {
            app.close();
        }
    }

    static byte[] readAll(InputStream in) throws Exception {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                all.write(buf, 0, n);
            }
        } catch (java.net.SocketException reset) {
            // the server closed the connection under us: what came before is what counts
        }
        return all.toByteArray();
    }
}
