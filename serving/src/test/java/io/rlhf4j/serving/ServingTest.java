package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.store.PromptLog;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The server as clients see it: real HTTP on loopback, the bundled demo model exported to ONNX. */
class ServingTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;

    @BeforeAll
    static void start() throws IOException {
        app = TestServers.startDemo(tmp, null);
        base = TestServers.base(app);
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode complete(String body) throws Exception {
        HttpResponse<String> r = post("/v1/completions", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    @Test
    void aCompletionHasOpenAisShapeAndNamesTheVersion() throws Exception {
        JsonNode r = complete("{\"model\":\"rlhf4j\",\"prompt\":\"dog (noun):\",\"max_tokens\":12,\"temperature\":0}");
        assertThat(r.get("id").asText()).startsWith("cmpl-");
        assertThat(r.get("object").asText()).isEqualTo("text_completion");
        assertThat(r.get("model").asText()).isEqualTo("1");
        JsonNode choice = r.get("choices").get(0);
        assertThat(choice.get("text").asText()).isNotEmpty();
        assertThat(choice.get("index").asInt()).isZero();
        assertThat(choice.get("finish_reason").asText()).isIn("stop", "length");
        assertThat(choice.get("logprobs").isNull()).isTrue();
        JsonNode usage = r.get("usage");
        assertThat(usage.get("total_tokens").asInt())
                .isEqualTo(usage.get("prompt_tokens").asInt()
                        + usage.get("completion_tokens").asInt());
        // The served greedy text is the trainer's: the same demo model, through ONNX Runtime.
        assertThat(choice.get("text").asText()).isEqualTo(" a small pale-shaped bone of the bone");
    }

    @Test
    void nCompletionsLogprobsAndStop() throws Exception {
        JsonNode four = complete("{\"prompt\":\"cat (noun):\",\"max_tokens\":6,\"n\":4,\"temperature\":1,\"seed\":5}");
        assertThat(four.get("choices")).hasSize(4);
        for (int i = 0; i < 4; i++) {
            assertThat(four.get("choices").get(i).get("index").asInt()).isEqualTo(i);
        }
        JsonNode lp = complete("{\"prompt\":\"cat (noun):\",\"max_tokens\":5,\"temperature\":0,\"logprobs\":2}")
                .get("choices")
                .get(0)
                .get("logprobs");
        int tokens = lp.get("tokens").size();
        assertThat(tokens).isPositive();
        assertThat(lp.get("token_logprobs")).hasSize(tokens);
        assertThat(lp.get("top_logprobs")).hasSize(tokens);
        assertThat(lp.get("top_logprobs").get(0).size()).isBetween(1, 2);
        assertThat(lp.get("token_logprobs").get(0).asDouble()).isNegative();

        String free = complete("{\"prompt\":\"dog (noun):\",\"max_tokens\":12,\"temperature\":0}")
                .get("choices")
                .get(0)
                .get("text")
                .asText();
        JsonNode stopped = complete(
                        "{\"prompt\":\"dog (noun):\",\"max_tokens\":12,\"temperature\":0,\"stop\":[\"bone\"]}")
                .get("choices")
                .get(0);
        assertThat(stopped.get("text").asText()).isEqualTo(free.substring(0, free.indexOf("bone")));
        assertThat(stopped.get("finish_reason").asText()).isEqualTo("stop");
    }

    @Test
    void aSeedMakesSamplingReproducible() throws Exception {
        String body = "{\"prompt\":\"run (verb):\",\"max_tokens\":16,\"temperature\":1.2,\"seed\":%d}";
        String a = complete(String.format(body, 42))
                .get("choices")
                .get(0)
                .get("text")
                .asText();
        String b = complete(String.format(body, 42))
                .get("choices")
                .get(0)
                .get("text")
                .asText();
        String c = complete(String.format(body, 43))
                .get("choices")
                .get(0)
                .get("text")
                .asText();
        assertThat(b).isEqualTo(a);
        assertThat(c).isNotEqualTo(a);
    }

    @Test
    void streamingSendsTheSameTextAsChunksThenDone() throws Exception {
        String plain = complete("{\"prompt\":\"happy (adjective):\",\"max_tokens\":10,\"temperature\":0}")
                .get("choices")
                .get(0)
                .get("text")
                .asText();
        HttpResponse<String> r = post(
                "/v1/completions",
                "{\"prompt\":\"happy (adjective):\",\"max_tokens\":10,\"temperature\":0,\"stream\":true}");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        StringBuilder text = new StringBuilder();
        List<String> events = r.body()
                .lines()
                .filter(l -> l.startsWith("data: "))
                .map(l -> l.substring(6))
                .toList();
        assertThat(events.get(events.size() - 1)).isEqualTo("[DONE]");
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode chunk = JSON.readTree(e);
            assertThat(chunk.get("object").asText()).isEqualTo("text_completion");
            assertThat(chunk.get("model").asText()).isEqualTo("1");
            text.append(chunk.get("choices").get(0).get("text").asText());
            if (!chunk.get("choices").get(0).get("finish_reason").isNull()) {
                finish = chunk.get("choices").get(0).get("finish_reason").asText();
            }
        }
        assertThat(text.toString()).isEqualTo(plain);
        assertThat(finish).isNotNull();
    }

    @Test
    void concurrentRequestsBatchedTogetherGetWhatEachGetsAlone() throws Exception {
        List<String> prompts = List.of(
                "dog (noun):",
                "cat (noun):",
                "run (verb):",
                "happy (adjective):",
                "a small",
                "red (adjective):",
                "tree (noun):",
                "eat (verb):");
        List<String> alone = new ArrayList<>();
        for (String p : prompts) {
            alone.add(complete("{\"prompt\":\"" + p + "\",\"max_tokens\":20,\"temperature\":0}")
                    .get("choices")
                    .get(0)
                    .get("text")
                    .asText());
        }
        List<CompletableFuture<HttpResponse<String>>> together = new ArrayList<>();
        for (String p : prompts) {
            together.add(HTTP.sendAsync(
                    HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"prompt\":\"" + p + "\",\"max_tokens\":20,\"temperature\":0}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode r = JSON.readTree(together.get(i).get(60, TimeUnit.SECONDS).body());
            assertThat(r.get("choices").get(0).get("text").asText())
                    .as(prompts.get(i))
                    .isEqualTo(alone.get(i));
        }
    }

    @Test
    void everyRequestIsLoggedWithItsUser() throws Exception {
        long before = app.store().prompts().count();
        complete("{\"prompt\":\"tree (noun):\",\"max_tokens\":4,\"user\":\"alice\",\"n\":2}");
        complete("{\"prompt\":[\"a\",\"b\"],\"max_tokens\":3,\"user\":\"bob\",\"training_consent\":false}");
        assertThat(app.store().prompts().count()).isEqualTo(before + 3);
        List<PromptLog> logs = app.store().prompts().recent(3);
        PromptLog alice = logs.stream()
                .filter(l -> l.userId().equals("alice"))
                .findFirst()
                .orElseThrow();
        assertThat(alice.text()).isEqualTo("tree (noun):");
        assertThat(alice.completions()).hasSize(2);
        assertThat(alice.modelVersion()).isEqualTo("1");
        assertThat(alice.consent()).isTrue();
        assertThat(alice.completions().get(0).logprobs())
                .hasSize(alice.completions().get(0).tokens());
        assertThat(logs.stream().filter(l -> l.userId().equals("bob")))
                .hasSize(2)
                .allMatch(l -> !l.consent());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            value = {
                "max_tokens | {\"prompt\":\"x\",\"max_tokens\":-1}",
                "max_tokens | {\"prompt\":\"x\",\"max_tokens\":\"ten\"}",
                "n | {\"prompt\":\"x\",\"n\":0}",
                "n | {\"prompt\":\"x\",\"n\":99}",
                "temperature | {\"prompt\":\"x\",\"temperature\":\"hot\"}",
                "temperature | {\"prompt\":\"x\",\"temperature\":3}",
                "top_p | {\"prompt\":\"x\",\"top_p\":0}",
                "stop | {\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
                "stop | {\"prompt\":\"x\",\"stop\":7}",
                "logprobs | {\"prompt\":\"x\",\"logprobs\":9}",
                "prompt | {\"prompt\":123}",
                "seed | {\"prompt\":\"x\",\"seed\":1.5}",
                "stream | {\"prompt\":\"x\",\"stream\":\"yes\"}",
                "user | {\"prompt\":\"x\",\"user\":5}"
            })
    void eachInvalidFieldIsA400NamingIt(String param, String body) throws Exception {
        HttpResponse<String> r = post("/v1/completions", body);
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("param").asText()).isEqualTo(param);
        assertThat(error.get("message").asText()).contains(param);
    }

    @Test
    void malformedUnknownOversizedAndOverlongRequestsGetClearErrors() throws Exception {
        HttpResponse<String> bad = post("/v1/completions", "{\"prompt\": ");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("not valid JSON");

        HttpResponse<String> model = post("/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}");
        assertThat(model.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(model.body()).get("error").get("code").asText())
                .isEqualTo("model_not_found");

        String huge = "{\"prompt\":\"" + "a".repeat(2 << 20) + "\"}";
        HttpResponse<String> big = post("/v1/completions", huge);
        assertThat(big.statusCode()).isEqualTo(413);
        assertThat(big.body()).contains("\"error\"");

        HttpResponse<String> longPrompt = post("/v1/completions", "{\"prompt\":\"" + "dog ".repeat(400) + "\"}");
        assertThat(longPrompt.statusCode()).isEqualTo(400);
        assertThat(longPrompt.body()).contains("context window is 128");

        HttpResponse<String> missing = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v2/nothing")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).contains("\"error\"");

        // The server is still up and answering.
        complete("{\"prompt\":\"x\",\"max_tokens\":2}");
    }

    @Test
    void aClientThatDisconnectsMidStreamFreesItsSlot() throws Exception {
        HttpResponse<InputStream> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"dog (noun):\",\"max_tokens\":120,"
                                + "\"temperature\":1,\"stream\":true}"))
                        .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            byte[] first = new byte[64];
            assertThat(in.read(first)).isPositive();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (app.router().current().inFlight() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(app.router().current().inFlight()).isZero();
    }

    @Test
    void modelsHealthAndReadiness() throws Exception {
        JsonNode models = JSON.readTree(HTTP.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                        HttpResponse.BodyHandlers.ofString())
                .body());
        assertThat(models.get("object").asText()).isEqualTo("list");
        assertThat(models.get("data").get(0).get("id").asText()).isEqualTo("1");
        assertThat(models.get("data").get(0).get("active").asBoolean()).isTrue();
        assertThat(HTTP.send(
                                HttpRequest.newBuilder(URI.create(base + "/health"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .statusCode())
                .isEqualTo(200);
        HttpResponse<String> ready = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/ready")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).contains("\"version\":\"1\"");
        assertThat(Files.exists(tmp.resolve("data").resolve("rlhf4j.db"))).isTrue();
    }

    @Test
    void nLargerThanTheServersBatchIsA400() throws Exception {
        try (ServingApp small = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("small")).withPort(0).withLimits(2, 4))) {
            small.registerAndActivate(tmp.resolve("export"));
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + small.port() + "/v1/completions"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"n\":3}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(JSON.readTree(r.body()).get("error").get("param").asText())
                    .isEqualTo("n");
        }
    }

    @Test
    void aWriteFromAnotherSitesPageIsRefusedAndNothingIsLogged() throws Exception {
        long before = app.store().prompts().count();
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "text/plain")
                        .header("origin", "https://evil.example")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"max_tokens\":1}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(r.body()).get("error").get("code").asText()).isEqualTo("cross_origin");
        assertThat(app.store().prompts().count()).isEqualTo(before);
        HttpResponse<String> same = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json")
                        .header("origin", base)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"max_tokens\":1}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(same.statusCode()).as(same.body()).isEqualTo(200);
    }

    @Test
    void theLabelingQueuesSideEffectingGetRefusesOtherSites() throws Exception {
        for (String[] h : new String[][] {
            {"origin", "https://evil.example"},
            {"origin", "null"},
            {"sec-fetch-site", "cross-site"},
            {"sec-fetch-site", "same-site"}
        }) {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/labeling/next?labeler=x"))
                            .header(h[0], h[1])
                            .GET()
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(h[0] + ": " + h[1]).isEqualTo(403);
            assertThat(JSON.readTree(r.body()).at("/error/code").asText()).isEqualTo("cross_origin");
        }
        HttpResponse<String> own = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/labeling/next?labeler=x"))
                        .header("sec-fetch-site", "same-origin")
                        .GET()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(own.statusCode())
                .as("the labeling page's own request: " + own.body())
                .isNotEqualTo(403);
    }

    @Test
    void anOpaqueOriginAndANonJsonBodyAreRefusedAndNothingIsLogged() throws Exception {
        long before = app.store().prompts().count();
        // Sandboxed iframes and data: pages send Origin: null; their posts need no preflight.
        HttpResponse<String> opaque = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json")
                        .header("origin", "null")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"max_tokens\":1}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(opaque.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(opaque.body()).at("/error/code").asText()).isEqualTo("cross_origin");
        // A form or text/plain post (what a page can send cross-site without a preflight) is not JSON.
        for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded"}) {
            HttpResponse<String> plain = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                            .header("content-type", type)
                            .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"max_tokens\":1}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(plain.statusCode()).as(type).isEqualTo(415);
            assertThat(JSON.readTree(plain.body()).at("/error/code").asText()).isEqualTo("unsupported_media_type");
        }
        assertThat(app.store().prompts().count()).isEqualTo(before);
        // JSON with a charset is JSON.
        HttpResponse<String> charset = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json; charset=utf-8")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"x\",\"max_tokens\":1}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(charset.statusCode()).isEqualTo(200);
    }

    /** One HTTP/1.1 request over a plain socket, so the Host header is whatever the test says. */
    static String rawGet(String path, String host) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", app.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream()
                    .write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void inOpenModeOnlyLoopbackHostNamesAreAnswered() throws Exception {
        // A DNS-rebinding page reaches 127.0.0.1 under its own name; the name is what gives it away.
        String rebound = rawGet("/v1/models", "rebind.attacker.example:" + app.port());
        assertThat(rebound).startsWith("HTTP/1.1 403").contains("host_not_allowed");
        for (String host :
                new String[] {"localhost:" + app.port(), "127.0.0.1:" + app.port(), "127.1.2.3", "[::1]:" + app.port()
                }) {
            assertThat(rawGet("/v1/models", host)).as(host).startsWith("HTTP/1.1 200");
        }
        assertThat(rawGet("/v1/models", "127.0.0.1.attacker.example")).startsWith("HTTP/1.1 403");
    }

    static int[] ids(String text) throws Exception {
        JsonNode t = JSON.readTree(post("/tokenize", JSON.writeValueAsString(java.util.Map.of("prompt", text)))
                .body());
        int[] ids = new int[t.get("tokens").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = t.get("tokens").get(i).asInt();
        }
        return ids;
    }

    static JsonNode score(List<int[]> prompts, int n) throws Exception {
        return complete(JSON.writeValueAsString(java.util.Map.of(
                "prompt", prompts, "echo", true, "logprobs", 2, "max_tokens", 1, "temperature", 0, "n", n)));
    }

    @Test
    void promptsOfDifferentLengthsScoredInOneRequestGetWhatEachGetsAlone() throws Exception {
        // One prefill pads the shorter prompt on the left: its log-probs must not shift.
        int[] shortIds = ids("cat (noun):");
        int[] longIds = ids("a tree (noun): a tall plant with a trunk and branches");
        assertThat(longIds.length).isGreaterThan(shortIds.length + 3);
        JsonNode together = score(List.of(shortIds, longIds), 2).get("choices");
        assertThat(together).hasSize(4);
        List<int[]> prompts = List.of(shortIds, longIds);
        for (int p = 0; p < 2; p++) {
            JsonNode alone = score(List.of(prompts.get(p)), 1).at("/choices/0/logprobs");
            for (int c = 0; c < 2; c++) {
                JsonNode choice = together.get(p * 2 + c);
                assertThat(choice.get("index").asInt()).isEqualTo(p * 2 + c);
                JsonNode lps = choice.at("/logprobs/token_logprobs");
                assertThat(lps).hasSize(prompts.get(p).length + 1);
                assertThat(lps.get(0).isNull()).isTrue();
                for (int i = 1; i < lps.size(); i++) {
                    assertThat(lps.get(i).asDouble())
                            .as("prompt %d token %d", p, i)
                            .isCloseTo(
                                    alone.at("/token_logprobs/" + i).asDouble(),
                                    org.assertj.core.data.Offset.offset(1e-4));
                }
                assertThat(choice.at("/logprobs/tokens")).isEqualTo(alone.get("tokens"));
            }
        }
    }

    @Test
    void aRequestForMoreCompletionsThanTheLimitIsA400BeforeAnythingRuns() throws Exception {
        StringBuilder prompts = new StringBuilder("[");
        for (int i = 0; i < 100; i++) {
            prompts.append(i == 0 ? "" : ",").append("[1, 2]");
        }
        HttpResponse<String> r = post("/v1/completions", "{\"prompt\":" + prompts + "],\"n\":3,\"max_tokens\":1}");
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("param").asText()).isEqualTo("prompt");
        assertThat(error.get("message").asText()).contains("300 completions").contains("at most 256");
    }

    @Test
    void theWebPagesMayNotBeFramedAndLoadOnlyTheirOwnScripts() throws Exception {
        for (String page : new String[] {"/", "/label.html", "/admin.html", "/js/api.js"}) {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + page)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(page).isEqualTo(200);
            assertThat(r.headers().firstValue("x-frame-options")).as(page).hasValue("DENY");
            assertThat(r.headers().firstValue("content-security-policy").orElseThrow())
                    .contains("default-src 'self'")
                    .contains("frame-ancestors 'none'");
        }
        // The API's answers are not pages.
        HttpResponse<String> models = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(models.headers().firstValue("x-frame-options")).isEmpty();
    }
}
