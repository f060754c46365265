package io.rlhf4j.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a real server rarely does on cue: errors mid-stream, a stream cut short, a proxy's HTML error page,
 * Retry-After as a date, SSE's less common syntax, a training run that moves while polled. A scripted
 * JDK HTTP server answers; it also records what the client sent.
 */
class ProtocolTest {

    /** One scripted answer. */
    record Answer(int status, Map<String, String> headers, String body) {}

    record Seen(String method, String uri, String authorization, String body) {}

    HttpServer server;
    final ConcurrentLinkedQueue<Answer> script = new ConcurrentLinkedQueue<>();
    final List<Seen> seen = new ArrayList<>();
    Rlhf4jClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
        client = Rlhf4jClient.builder()
                .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
                .apiKey("k-1")
                .adminToken("adm")
                .labeler("lab")
                .timeout(Duration.ofSeconds(10))
                .build();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        synchronized (seen) {
            seen.add(new Seen(
                    ex.getRequestMethod(),
                    ex.getRequestURI().toString(),
                    ex.getRequestHeaders().getFirst("authorization"),
                    body));
        }
        Answer a = script.poll();
        if (a == null) {
            a = new Answer(500, Map.of(), "no scripted answer");
        }
        a.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
        byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(a.status(), bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        }
        ex.close();
    }

    void answer(int status, String body, String... headers) {
        Map<String, String> h = new java.util.LinkedHashMap<>();
        for (int i = 0; i < headers.length; i += 2) {
            h.put(headers[i], headers[i + 1]);
        }
        script.add(new Answer(status, h, body));
    }

    static final String SSE = "text/event-stream";

    static String chunk(String text, String finish) {
        return "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"3\",\"choices\":[{\"text\":"
                + Json.MAPPER.valueToTree(text) + ",\"index\":0,\"logprobs\":null,\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}]}";
    }

    @Test
    void sseCommentsCrlfMultiLineDataAndUnknownFieldsAreHandled() {
        answer(
                200,
                ": keep-alive\r\n\r\nevent: message\r\nid: 1\r\ndata: " + chunk("Hel", null) + "\r\n\r\n"
                        + "data:" + chunk("lo", null) + "\n\n"
                        // one event's data split over two data lines, joined with a newline (still one JSON object)
                        + "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"3\",\"new_field\":7,\n"
                        + "data: \"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"stop\"}]}\n\n"
                        + "data: [DONE]\n\n",
                "content-type",
                SSE);
        StringBuilder text = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        client.stream(CompletionRequest.of("x"), c -> {
            text.append(c.text());
            finishes.add(c.choices().get(0).finishReason());
        });
        assertThat(text.toString()).isEqualTo("Hello");
        assertThat(finishes).containsExactly(null, null, "stop");
        Seen s = seen.get(0);
        assertThat(s.method()).isEqualTo("POST");
        assertThat(s.uri()).isEqualTo("/v1/completions");
        assertThat(s.authorization()).isEqualTo("Bearer k-1");
        assertThat(s.body()).isEqualTo("{\"prompt\":\"x\",\"stream\":true}");
    }

    @Test
    void anErrorEventMidStreamIsThrownAfterTheChunksBeforeIt() {
        answer(
                200,
                "data: " + chunk("Hel", null) + "\n\ndata: {\"error\":{\"message\":\"generation failed: boom\","
                        + "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
                "content-type",
                SSE);
        List<String> pieces = new ArrayList<>();
        Rlhf4jException e = catchThrowableOfType(
                Rlhf4jException.class, () -> client.stream(CompletionRequest.of("x"), c -> pieces.add(c.text())));
        assertThat(pieces).containsExactly("Hel");
        assertThat(e.status()).isZero();
        assertThat(e.type()).isEqualTo("server_error");
        assertThat(e.serverMessage()).isEqualTo("generation failed: boom");
        assertThat(e.getMessage()).contains("mid-stream", "boom");
    }

    @Test
    void aStreamCutShortIsAnErrorNotAShortAnswer() {
        answer(200, "data: " + chunk("Hel", null) + "\n\n", "content-type", SSE);
        Rlhf4jException e =
                catchThrowableOfType(Rlhf4jException.class, () -> client.stream(CompletionRequest.of("x"), c -> {}));
        assertThat(e.status()).isZero();
        assertThat(e.getMessage()).contains("[DONE]");

        answer(200, "{\"id\":\"cmpl-1\"}", "content-type", "application/json");
        Rlhf4jException notSse =
                catchThrowableOfType(Rlhf4jException.class, () -> client.stream(CompletionRequest.of("x"), c -> {}));
        assertThat(notSse.getMessage()).contains("application/json", "text/event-stream");
    }

    @Test
    void errorBodiesThatAreNotOpenAisAndRetryAfterAsADate() {
        answer(502, "<html><body>Bad Gateway</body></html>", "content-type", "text/html");
        Rlhf4jException html = catchThrowableOfType(Rlhf4jException.class, () -> client.models());
        assertThat(html.status()).isEqualTo(502);
        assertThat(html.type()).isNull();
        assertThat(html.getMessage()).contains("GET /v1/models", "502", "Bad Gateway");
        assertThat(html.isRetryable()).isTrue();

        String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(30));
        answer(
                503,
                "{\"error\":{\"message\":\"at capacity\",\"type\":\"server_error\",\"param\":null,"
                        + "\"code\":\"overloaded\"}}",
                "content-type",
                "application/json",
                "retry-after",
                date);
        Rlhf4jException busy = catchThrowableOfType(Rlhf4jException.class, () -> client.models());
        assertThat(busy.code()).isEqualTo("overloaded");
        assertThat(busy.retryAfter())
                .hasValueSatisfying(d -> assertThat(d).isBetween(Duration.ofSeconds(25), Duration.ofSeconds(31)));

        answer(400, "{\"error\":\"plain string error\"}", "content-type", "application/json", "retry-after", "junk");
        Rlhf4jException plain = catchThrowableOfType(Rlhf4jException.class, () -> client.models());
        assertThat(plain.serverMessage()).isEqualTo("plain string error");
        assertThat(plain.retryAfter()).isEmpty();

        answer(200, "not json", "content-type", "application/json");
        Rlhf4jException garbage = catchThrowableOfType(Rlhf4jException.class, () -> client.models());
        assertThat(garbage.status()).isZero();
        assertThat(garbage.getMessage()).contains("not JSON");
    }

    @Test
    void labelingSendsTheLabelerAndReadsAnEmptyQueue() {
        answer(204, "");
        assertThat(client.labeling().next(5)).isEmpty();
        answer(
                200,
                "{\"prompt_id\":\"p 1\",\"prompt\":\"dog\",\"model\":\"3\",\"completions\":[{\"id\":\"p 1-0\","
                        + "\"index\":0,\"text\":\" a\"},{\"id\":\"p 1-1\",\"index\":1,\"text\":\" b\"}]}",
                "content-type",
                "application/json");
        LabelingTask task = client.labeling().next().orElseThrow();
        assertThat(task.completionIds()).containsExactly("p 1-0", "p 1-1");
        answer(201, "{\"id\":\"rank-1\",\"prompt_id\":\"p 1\",\"k\":2}");
        assertThat(client.labeling()
                        .rank(
                                task.promptId(),
                                List.of(List.of("p 1-1"), List.of("p 1-0")),
                                Map.of("p 1-1", 6),
                                Map.of("p 1-0", List.of("hallucination"))))
                .isEqualTo("rank-1");
        answer(201, "{\"id\":\"demo-1\",\"prompt_id\":\"p 1\"}");
        assertThat(client.labeling().demonstrate("p 1", "a dog is an animal")).isEqualTo("demo-1");
        answer(201, "{\"prompt_id\":\"p 1\"}");
        client.labeling().skip("p 1", null);
        answer(200, "{\"user\":\"u\",\"training_consent\":false,\"prompts_updated\":3}");
        assertThat(client.consent("u", false)).isEqualTo(new Consent("u", false, 3));

        assertThat(seen)
                .extracting(Seen::uri)
                .containsExactly(
                        "/v1/labeling/next?k=5&labeler=lab",
                        "/v1/labeling/next?labeler=lab",
                        "/v1/labeling/rankings",
                        "/v1/labeling/demonstrations",
                        "/v1/labeling/skips",
                        "/v1/consent");
        assertThat(seen).extracting(Seen::authorization).containsOnly("Bearer k-1");
        JsonNode rank = Json.MAPPER.valueToTree(Map.of());
        try {
            rank = Json.MAPPER.readTree(seen.get(2).body());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        assertThat(rank.toString())
                .isEqualTo("{\"prompt_id\":\"p 1\",\"labeler\":\"lab\",\"ranking\":[[\"p 1-1\"],"
                        + "[\"p 1-0\"]],\"scores\":{\"p 1-1\":6},\"flags\":{\"p 1-0\":[\"hallucination\"]}}");
        assertThat(seen.get(4).body()).isEqualTo("{\"prompt_id\":\"p 1\",\"labeler\":\"lab\"}");
        assertThat(seen.get(5).method()).isEqualTo("PUT");
        assertThat(seen.get(5).body()).isEqualTo("{\"training_consent\":false,\"user\":\"u\"}");
    }

    static String run(String state, String stage, double progress, long updated) {
        return "{\"id\":\"run-1\",\"state\":\"" + state + "\",\"trigger\":\"manual\",\"stage\":\"" + stage
                + "\",\"progress\":" + progress + ",\"snapshot\":null,\"candidate\":"
                + ("succeeded".equals(state) ? "\"4\"" : "null") + ",\"gate\":"
                + ("succeeded".equals(state) ? "{\"passed\":true,\"win_rate\":0.61,\"n\":64}" : "null")
                + ",\"promoted\":false,\"error\":null,\"created_at\":1700000000000,\"updated_at\":" + updated + "}";
    }

    @Test
    void awaitingATrainingRunReportsEachChangeOnce() {
        answer(200, run("queued", "snapshot", 0, 1700000000000L));
        answer(200, run("running", "sft", 0.2, 1700000001000L));
        answer(200, run("running", "sft", 0.2, 1700000001000L));
        answer(200, run("running", "ppo", 0.7, 1700000002000L));
        answer(200, run("succeeded", "done", 1, 1700000003000L));
        List<String> progress = new ArrayList<>();
        TrainingRun done = client.admin()
                .awaitTrainingRun("run-1", Duration.ofSeconds(30), r -> progress.add(r.state() + "/" + r.stage()));
        assertThat(progress).containsExactly("queued/snapshot", "running/sft", "running/ppo", "succeeded/done");
        assertThat(done.succeeded()).isTrue();
        assertThat(done.finished()).isTrue();
        assertThat(done.candidate()).isEqualTo("4");
        assertThat(done.gatePassed()).isTrue();
        assertThat(done.gate().get("win_rate").asDouble()).isEqualTo(0.61);
        assertThat(done.createdAt()).isEqualTo(java.time.Instant.ofEpochMilli(1700000000000L));
        assertThat(seen).extracting(Seen::uri).containsOnly("/admin/training-runs/run-1");
        assertThat(seen).extracting(Seen::authorization).containsOnly("Bearer adm");

        AtomicInteger polls = new AtomicInteger();
        for (int i = 0; i < 50; i++) {
            answer(200, run("running", "rm", 0.5, 1700000001000L));
        }
        Rlhf4jException late = catchThrowableOfType(
                Rlhf4jException.class,
                () -> client.admin().awaitTrainingRun("run-1", Duration.ofMillis(700), r -> polls.incrementAndGet()));
        assertThat(late.code()).isEqualTo(Rlhf4jException.WAIT_TIMEOUT);
        assertThat(late.status()).isZero();
        assertThat(late.getMessage()).contains("run-1", "running", "rm", "50%");
        assertThat(polls).as("an unchanged run is reported once").hasValue(1);
    }

    @Test
    void adminPathsAreEscapedAndBodiesAreAsDocumented() {
        answer(200, "{\"kind\":\"policy\",\"active\":\"a/b\",\"previous\":\"1\"}");
        client.admin().promote("a/b", true);
        answer(
                200,
                "{\"user\":\"x y\",\"deleted\":{\"prompts\":2,\"completions\":9,\"rankings\":1,\"demonstrations\":0},"
                        + "\"model_versions\":[\"2\"],\"snapshots\":[\"snap-1\"]}");
        UserDeletion d = client.admin().deleteUser("x y");
        assertThat(d.deleted()).isEqualTo(new UserDeletion.Counts(2, 9, 1, 0));
        assertThat(d.modelVersions()).containsExactly("2");
        answer(202, "{\"id\":\"run-2\",\"state\":\"queued\"}");
        TrainingRun started = client.admin().startTrainingRun(Map.of("ppo", Map.of("steps", 3)));
        assertThat(started.id()).isEqualTo("run-2");
        assertThat(started.gate()).isNull();
        answer(200, "{\"metrics\":[{\"stage\":\"sft\",\"step\":1,\"loss\":2.5}]}");
        assertThat(client.admin().trainingRunMetrics("run-2"))
                .singleElement()
                .satisfies(m -> assertThat(m.get("loss").asDouble()).isEqualTo(2.5));
        answer(200, "{\"runs\":[" + run("failed", "rm", 0.4, 1L).replace("\"error\":null", "\"error\":\"oom\"") + "]}");
        assertThat(client.admin().trainingRuns()).singleElement().satisfies(r -> {
            assertThat(r.failed()).isTrue();
            assertThat(r.error()).isEqualTo("oom");
        });
        answer(
                200,
                "{\"key\":\"sk-abc\",\"prefix\":\"sk-a\",\"user\":\"svc\",\"role\":\"service\",\"requests_per_minute\":600}");
        client.admin().createKey("svc", ApiKey.SERVICE, true, null);

        assertThat(seen)
                .extracting(Seen::uri)
                .containsExactly(
                        "/admin/models/a%2Fb/promote?force=true",
                        "/admin/users/x%20y",
                        "/admin/training-runs",
                        "/admin/training-runs/run-2/metrics",
                        "/admin/training-runs",
                        "/admin/keys");
        assertThat(seen.get(2).body()).isEqualTo("{\"config\":{\"ppo\":{\"steps\":3}}}");
        assertThat(seen.get(5).body()).isEqualTo("{\"user\":\"svc\",\"role\":\"service\",\"may_set_user\":true}");
    }

    @Test
    void rewardsReadBothTheDocumentedAndTheServedShape() {
        answer(200, "{\"model\":\"5\",\"rewards\":[0.5,-1.0]}");
        assertThat(client.rewards("p", List.of("a", "b"))).isEqualTo(new Rewards("5", List.of(0.5, -1.0)));
        answer(
                200,
                "{\"object\":\"list\",\"model\":\"5\",\"data\":[{\"index\":1,\"reward\":-1.0},"
                        + "{\"index\":0,\"reward\":0.5}]}");
        assertThat(client.rewards("p", List.of("a", "b"))).isEqualTo(new Rewards("5", List.of(0.5, -1.0)));
        assertThat(seen.get(0).body()).isEqualTo("{\"prompt\":\"p\",\"completions\":[\"a\",\"b\"]}");
    }
}
