package io.rlhf4j.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.rlhf4j.serving.ServingApp;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK against a real server on loopback, serving the bundled demo model (open mode, admin token "t"). */
class Rlhf4jClientTest {

    static final String GREEDY = " a small pale-shaped bone of the bone";

    @TempDir
    static Path tmp;

    static ServingApp app;
    static Path export;
    static Path rewardExport;
    static Rlhf4jClient client;

    @BeforeAll
    static void start() throws Exception {
        export = TestModels.exportPolicy(tmp.resolve("export"));
        rewardExport = TestModels.exportReward(tmp);
        app = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken("t"));
        app.registerAndActivate(export);
        client = Rlhf4jClient.builder()
                .baseUrl("http://127.0.0.1:" + app.port())
                .adminToken("t")
                .timeout(Duration.ofSeconds(60))
                .build();
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
    }

    static CompletionRequest greedy(String prompt, int maxTokens) {
        return CompletionRequest.builder()
                .prompt(prompt)
                .maxTokens(maxTokens)
                .temperature(0)
                .build();
    }

    static String activePolicy() {
        return client.models().stream()
                .filter(Model::active)
                .map(Model::id)
                .findFirst()
                .orElseThrow();
    }

    @Test
    void aGreedyCompletionIsTheTrainersTextInOpenAisShape() {
        Completion c = client.complete(greedy("dog (noun):", 12));
        assertThat(c.text()).isEqualTo(GREEDY);
        assertThat(c.id()).startsWith("cmpl-");
        assertThat(c.object()).isEqualTo("text_completion");
        assertThat(c.created()).isPositive();
        assertThat(c.model()).isEqualTo(activePolicy());
        assertThat(c.choices()).hasSize(1);
        Choice choice = c.choices().get(0);
        assertThat(choice.index()).isZero();
        assertThat(choice.finishReason()).isIn("stop", "length");
        assertThat(choice.finished()).isTrue();
        assertThat(choice.logprobs()).isNull();
        assertThat(c.usage().promptTokens()).isPositive();
        assertThat(c.usage().completionTokens()).isBetween(1, 12);
        assertThat(c.usage().totalTokens())
                .isEqualTo(c.usage().promptTokens() + c.usage().completionTokens());
        // The same request, under the alias and the active version's id, answers the same.
        assertThat(client.complete(greedy("dog (noun):", 12).toBuilder()
                                .model("rlhf4j")
                                .build())
                        .text())
                .isEqualTo(GREEDY);
        assertThat(client.complete(greedy("dog (noun):", 12).toBuilder()
                                .model(c.model())
                                .build())
                        .text())
                .isEqualTo(GREEDY);
    }

    @Test
    void aStreamedCompletionConcatenatesToThePlainOne() {
        List<CompletionChunk> chunks = new ArrayList<>();
        client.stream(greedy("dog (noun):", 12), chunks::add);
        assertThat(chunks).hasSizeGreaterThan(1);
        StringBuilder text = new StringBuilder();
        chunks.forEach(ch -> text.append(ch.text()));
        assertThat(text.toString()).isEqualTo(GREEDY);
        assertThat(chunks)
                .extracting(CompletionChunk::id)
                .containsOnly(chunks.get(0).id());
        assertThat(chunks).extracting(CompletionChunk::object).containsOnly("text_completion");
        CompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices().get(0).finishReason()).isIn("stop", "length");
        assertThat(chunks.subList(0, chunks.size() - 1))
                .allSatisfy(ch -> assertThat(ch.choices().get(0).finished()).isFalse());
    }

    @Test
    void chatPlainAndStreamedAnswerAsTheCompletionOfTheTurnAndTheStreamEndsWithUsage() {
        // The demo model has no chat template: the default renders one user turn as its text.
        ChatRequest request = ChatRequest.builder()
                .user("dog (noun):")
                .maxTokens(12)
                .temperature(0)
                .build();
        ChatCompletion reply = client.chat(request);
        assertThat(reply.content()).isEqualTo(GREEDY);
        assertThat(reply.object()).isEqualTo("chat.completion");
        assertThat(reply.id()).startsWith("chatcmpl-");
        assertThat(reply.choices().get(0).message().role()).isEqualTo("assistant");
        assertThat(reply.choices().get(0).finishReason()).isIn("stop", "length");

        List<ChatCompletionChunk> chunks = new ArrayList<>();
        client.streamChat(request, chunks::add);
        StringBuilder text = new StringBuilder();
        chunks.forEach(ch -> text.append(ch.content()));
        assertThat(text.toString()).isEqualTo(GREEDY);
        assertThat(chunks.get(0).choices().get(0).delta().role()).isEqualTo("assistant");
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage()).isEqualTo(reply.usage());
        assertThat(chunks.get(chunks.size() - 2).choices().get(0).finishReason())
                .isIn("stop", "length");

        assertThatThrownBy(() -> client.chat(ChatRequest.builder()
                        .message(new ChatMessage("tool", "x"))
                        .build()))
                .isInstanceOfSatisfying(Rlhf4jException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.param()).isEqualTo("messages[0].role");
                });
    }

    @Test
    void severalChoicesPlainAndStreamed() {
        CompletionRequest r = CompletionRequest.builder()
                .prompt("cat (noun):")
                .maxTokens(6)
                .n(4)
                .temperature(1)
                .seed(5)
                .build();
        Completion c = client.complete(r);
        assertThat(c.choices()).extracting(Choice::index).containsExactly(0, 1, 2, 3);
        assertThat(c.choices()).allSatisfy(ch -> assertThat(ch.finishReason()).isIn("stop", "length"));

        Map<Integer, StringBuilder> texts = new TreeMap<>();
        Map<Integer, String> finish = new TreeMap<>();
        client.stream(r.toBuilder().n(3).build(), chunk -> {
            assertThat(chunk.choices()).hasSize(1);
            Choice ch = chunk.choices().get(0);
            texts.computeIfAbsent(ch.index(), i -> new StringBuilder()).append(ch.text());
            if (ch.finished()) {
                assertThat(finish.put(ch.index(), ch.finishReason()))
                        .as("one finish per choice")
                        .isNull();
            }
        });
        assertThat(finish.keySet()).containsExactly(0, 1, 2);
        assertThat(texts.keySet()).containsExactly(0, 1, 2);
    }

    @Test
    void logprobsStopAndEcho() {
        Completion lp =
                client.complete(greedy("cat (noun):", 5).toBuilder().logprobs(2).build());
        Logprobs l = lp.choices().get(0).logprobs();
        int tokens = l.tokens().size();
        assertThat(tokens).isPositive();
        assertThat(l.tokenLogprobs())
                .hasSize(tokens)
                .allSatisfy(x -> assertThat(x).isLessThanOrEqualTo(0.0));
        assertThat(l.topLogprobs()).hasSize(tokens);
        assertThat(l.topLogprobs().get(0)).hasSizeBetween(1, 2);
        assertThat(l.textOffset()).hasSize(tokens).startsWith(0);
        assertThat(String.join("", l.tokens())).isEqualTo(lp.text());

        Completion stopped = client.complete(
                greedy("dog (noun):", 12).toBuilder().stop("bone").build());
        assertThat(stopped.text()).isEqualTo(GREEDY.substring(0, GREEDY.indexOf("bone")));
        assertThat(stopped.choices().get(0).finishReason()).isEqualTo("stop");

        Completion echoed =
                client.complete(greedy("dog (noun):", 12).toBuilder().echo(true).build());
        assertThat(echoed.text()).isEqualTo("dog (noun):" + GREEDY);
    }

    @Test
    void modelsListsTheActiveVersion() {
        List<Model> models = client.models();
        assertThat(models).isNotEmpty();
        assertThat(models).filteredOn(Model::active).hasSize(1);
        Model m = models.get(0);
        assertThat(m.object()).isEqualTo("model");
        assertThat(m.ownedBy()).isEqualTo("rlhf4j");
        assertThat(m.created()).isPositive().isLessThan(System.currentTimeMillis() / 1000 + 5);
        // An OpenAI-style base URL (ending in /v1) reaches the same server.
        Rlhf4jClient openAiStyle = Rlhf4jClient.builder()
                .baseUrl("http://127.0.0.1:" + app.port() + "/v1/")
                .build();
        assertThat(openAiStyle.baseUrl().toString()).isEqualTo("http://127.0.0.1:" + app.port() + "/");
        assertThat(openAiStyle.models()).isEqualTo(client.models());
    }

    @Test
    void refusalsCarryOpenAisErrorFields() {
        Rlhf4jException e = catchThrowableOfType(
                Rlhf4jException.class,
                () -> client.complete(CompletionRequest.builder()
                        .prompt("dog (noun):")
                        .maxTokens(-1)
                        .build()));
        assertThat(e.status()).isEqualTo(400);
        assertThat(e.type()).isEqualTo("invalid_request_error");
        assertThat(e.param()).isEqualTo("max_tokens");
        assertThat(e.serverMessage()).contains("max_tokens");
        assertThat(e.getMessage()).contains("POST /v1/completions", "400", "max_tokens");
        assertThat(e.retryAfter()).isEmpty();
        assertThat(e.isRetryable()).isFalse();

        // The same refusal, for a stream: thrown before any chunk.
        List<CompletionChunk> none = new ArrayList<>();
        Rlhf4jException s = catchThrowableOfType(
                Rlhf4jException.class,
                () -> client.stream(
                        CompletionRequest.builder()
                                .prompt("dog (noun):")
                                .topP(0)
                                .build(),
                        none::add));
        assertThat(s.status()).isEqualTo(400);
        assertThat(s.param()).isEqualTo("top_p");
        assertThat(none).isEmpty();

        Rlhf4jException m = catchThrowableOfType(
                Rlhf4jException.class,
                () -> client.complete(CompletionRequest.builder()
                        .prompt("x")
                        .model("no-such-model")
                        .build()));
        assertThat(m.status()).isEqualTo(404);
        assertThat(m.code()).isEqualTo("model_not_found");
        assertThat(m.param()).isEqualTo("model");
    }

    @Test
    void aCallbackThatThrowsEndsTheStreamAndTheServerCarriesOn() {
        IllegalStateException stop = new IllegalStateException("enough");
        AtomicInteger seen = new AtomicInteger();
        assertThatThrownBy(() -> client.stream(greedy("run (verb):", 100), chunk -> {
                    seen.incrementAndGet();
                    throw stop;
                }))
                .isSameAs(stop);
        assertThat(seen).hasValue(1);
        assertThat(client.complete(greedy("dog (noun):", 12)).text()).isEqualTo(GREEDY);
    }

    @Test
    void rewardsFromTheRewardModelOnceOneIsPromoted() {
        List<String> completions = List.of(" a domestic animal", " a tree", " bark");
        String active = client.admin().versions().stream()
                .filter(v -> v.isReward() && v.active())
                .map(ModelVersion::version)
                .findFirst()
                .orElse(null);
        if (active == null) {
            Rlhf4jException none =
                    catchThrowableOfType(Rlhf4jException.class, () -> client.rewards("dog (noun):", completions));
            assertThat(none.status()).isEqualTo(404);
            assertThat(none.code()).isEqualTo("model_not_found");
            Registration reg = client.admin().register(rewardExport.toAbsolutePath());
            Promotion p = client.admin().promote(reg.version());
            assertThat(p.kind()).isEqualTo("reward");
            assertThat(p.active()).isEqualTo(reg.version());
            assertThat(p.previous()).isNull();
            active = reg.version();
        }
        Rewards r = client.rewards("dog (noun):", completions);
        assertThat(r.model()).isEqualTo(active);
        assertThat(r.rewards()).hasSize(3).allSatisfy(x -> assertThat(x).isFinite());
        assertThat(r.rewards().get(0)).isNotEqualTo(r.rewards().get(1));
        // Scores are per completion, independent of the batch they are sent in.
        assertThat(client.rewards("dog (noun):", List.of(" a tree")).rewards().get(0))
                .isCloseTo(r.rewards().get(1), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(client.admin().versions())
                .filteredOn(ModelVersion::isReward)
                .extracting(ModelVersion::active)
                .containsExactly(true);
        // The policy is untouched by a reward model's promotion.
        assertThat(client.complete(greedy("dog (noun):", 12)).text()).isEqualTo(GREEDY);
    }

    @Test
    void registerPromoteRollbackUnregister() {
        String first = activePolicy();
        Registration reg = client.admin().register(export.toAbsolutePath());
        String second = reg.version();
        assertThat(second).isNotEqualTo(first);
        assertThat(reg.state()).isEqualTo("registered");

        ModelVersion listed = client.admin().versions().stream()
                .filter(v -> v.version().equals(second))
                .findFirst()
                .orElseThrow();
        assertThat(listed.kind()).isEqualTo(ModelVersion.POLICY);
        assertThat(listed.parent()).isEqualTo(first);
        assertThat(listed.state()).isEqualTo("registered");
        assertThat(listed.active()).isFalse();
        assertThat(listed.createdAt())
                .isBetween(
                        java.time.Instant.now().minusSeconds(600),
                        java.time.Instant.now().plusSeconds(5));
        assertThat(listed.manifest().isObject()).isTrue();
        assertThat(listed.manifest().size()).isPositive();

        Promotion up = client.admin().promote(second, false);
        assertThat(up).isEqualTo(new Promotion("policy", second, first));
        Completion c = client.complete(greedy("dog (noun):", 12));
        assertThat(c.model()).isEqualTo(second);
        assertThat(c.text()).isEqualTo(GREEDY);
        assertThat(client.models())
                .filteredOn(Model::active)
                .extracting(Model::id)
                .containsExactly(second);

        Promotion back = client.admin().rollback();
        assertThat(back.active()).isEqualTo(first);
        assertThat(back.previous()).isEqualTo(second);
        assertThat(client.complete(greedy("dog (noun):", 12)).model()).isEqualTo(first);

        Rlhf4jException activeOne =
                catchThrowableOfType(Rlhf4jException.class, () -> client.admin().unregister(first));
        assertThat(activeOne.status()).isEqualTo(409);
        client.admin().unregister(second);
        assertThat(client.admin().versions())
                .filteredOn(v -> v.version().equals(second))
                .extracting(ModelVersion::state)
                .containsExactly("unregistered");
        Rlhf4jException gone =
                catchThrowableOfType(Rlhf4jException.class, () -> client.admin().promote(second));
        assertThat(gone.status()).isEqualTo(409);
        Rlhf4jException unknown =
                catchThrowableOfType(Rlhf4jException.class, () -> client.admin().promote("999"));
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.code()).isEqualTo("version_not_found");
        Rlhf4jException unregisterUnknown =
                catchThrowableOfType(Rlhf4jException.class, () -> client.admin().unregister("999"));
        // 400 today (promote says 404 version_not_found for the same thing): either is a refusal.
        assertThat(unregisterUnknown.status()).isIn(400, 404);
        Rlhf4jException notExport = catchThrowableOfType(
                Rlhf4jException.class,
                () -> client.admin().register(tmp.resolve("nothing-here").toAbsolutePath()));
        assertThat(notExport.status()).isEqualTo(400);
    }

    @Test
    void aWrongOrMissingAdminTokenIs401() {
        String base = client.baseUrl().toString();
        for (Rlhf4jClient c : List.of(
                Rlhf4jClient.builder().baseUrl(base).adminToken("wrong").build(),
                Rlhf4jClient.builder().baseUrl(base).build())) {
            Rlhf4jException e =
                    catchThrowableOfType(Rlhf4jException.class, () -> c.admin().versions());
            assertThat(e.status()).isEqualTo(401);
            assertThat(e.code()).isEqualTo("invalid_admin_token");
            assertThat(e.type()).isEqualTo("invalid_request_error");
        }
        Rlhf4jException e = catchThrowableOfType(
                Rlhf4jException.class,
                () -> Rlhf4jClient.builder()
                        .baseUrl(base)
                        .adminToken("wrong")
                        .build()
                        .admin()
                        .rollback());
        assertThat(e.status()).isEqualTo(401);
    }

    @Test
    void apiKeysEndOpenModeAndRateLimitsExposeRetryAfter() throws Exception {
        // A server of its own: once it has had a key it never reopens, and the other tests want it open.
        try (ServingApp own = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("keys-data")).withPort(0).withAdminToken("t"))) {
            own.registerAndActivate(export);
            keys(Rlhf4jClient.builder()
                    .baseUrl("http://127.0.0.1:" + own.port())
                    .adminToken("t")
                    .timeout(Duration.ofSeconds(60))
                    .build());
        }
    }

    private static void keys(Rlhf4jClient client) {
        ApiKey key = client.admin().createKey("alice", ApiKey.USER, false, 1);
        try {
            assertThat(key.key()).startsWith(key.prefix());
            assertThat(key.user()).isEqualTo("alice");
            assertThat(key.role()).isEqualTo("user");
            assertThat(key.requestsPerMinute()).isEqualTo(1);
            assertThat(key.toString()).doesNotContain(key.key()).contains(key.prefix());

            Rlhf4jException anonymous =
                    catchThrowableOfType(Rlhf4jException.class, () -> client.complete(greedy("dog (noun):", 2)));
            assertThat(anonymous.status()).isEqualTo(401);
            assertThat(anonymous.code()).isEqualTo("invalid_api_key");

            Rlhf4jClient alice = Rlhf4jClient.builder()
                    .baseUrl(client.baseUrl())
                    .apiKey(key.key())
                    .build();
            assertThat(alice.complete(greedy("dog (noun):", 12)).text()).isEqualTo(GREEDY);
            Rlhf4jException limited =
                    catchThrowableOfType(Rlhf4jException.class, () -> alice.complete(greedy("dog (noun):", 12)));
            assertThat(limited.status()).isEqualTo(429);
            assertThat(limited.code()).isEqualTo("rate_limit_exceeded");
            assertThat(limited.retryAfter())
                    .hasValueSatisfying(d -> assertThat(d).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(60)));
            assertThat(limited.isRetryable()).isTrue();
        } finally {
            assertThat(client.admin().revokeKey(key.prefix())).isEqualTo(1);
        }
        // With every key revoked the server stays locked: it does not reopen to everyone.
        Rlhf4jException locked =
                catchThrowableOfType(Rlhf4jException.class, () -> client.complete(greedy("dog (noun):", 12)));
        assertThat(locked.status()).isEqualTo(401);
        Rlhf4jException twice =
                catchThrowableOfType(Rlhf4jException.class, () -> client.admin().revokeKey(key.prefix()));
        assertThat(twice.status()).isEqualTo(404);
        assertThat(twice.code()).isEqualTo("key_not_found");
    }

    @Test
    void ioFailuresAreRlhf4jExceptionsWithoutAStatus() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Rlhf4jClient nowhere = Rlhf4jClient.builder()
                .baseUrl("http://127.0.0.1:" + closedPort)
                .timeout(Duration.ofSeconds(5))
                .build();
        Rlhf4jException e = catchThrowableOfType(Rlhf4jException.class, nowhere::models);
        assertThat(e.status()).isZero();
        assertThat(e.getMessage()).contains("GET /v1/models", "127.0.0.1:" + closedPort);
        assertThat(e.getCause()).isInstanceOf(java.io.IOException.class);
        assertThat(e.isRetryable()).isTrue();

        Rlhf4jClient impatient = Rlhf4jClient.builder()
                .baseUrl(client.baseUrl())
                .timeout(Duration.ofMillis(1))
                .build();
        Rlhf4jException slow = catchThrowableOfType(
                Rlhf4jException.class,
                () -> impatient.complete(
                        greedy("run (verb):", 100).toBuilder().n(8).build()));
        assertThat(slow.status()).isZero();
        assertThat(slow.getMessage()).contains("no answer", "1 ms");
        assertThat(slow.getCause()).isInstanceOf(java.net.http.HttpTimeoutException.class);
    }

    @Test
    void requestsAreValuesAndTheBuilderChecksItsInput() {
        CompletionRequest a = greedy("dog (noun):", 12);
        assertThat(a.toBuilder().build()).isEqualTo(a).hasSameHashCodeAs(a);
        assertThat(a.toBuilder().seed(1).build()).isNotEqualTo(a);
        assertThat(CompletionRequest.of("x").toJson(false).toString()).isEqualTo("{\"prompt\":\"x\"}");
        assertThat(a.toBuilder()
                        .stop("a", "b")
                        .user("u")
                        .trainingConsent(false)
                        .topK(3)
                        .build()
                        .toJson(true)
                        .toString())
                .isEqualTo("{\"prompt\":\"dog (noun):\",\"max_tokens\":12,\"temperature\":0.0,\"top_k\":3,"
                        + "\"stop\":[\"a\",\"b\"],\"user\":\"u\",\"training_consent\":false,\"stream\":true}");
        assertThatThrownBy(() -> CompletionRequest.builder().build()).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> Rlhf4jClient.builder().baseUrl("ftp://x"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Rlhf4jClient.builder().baseUrl("localhost:8080"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Rlhf4jClient.builder().timeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Rlhf4jClient.builder()
                        .baseUrl("http://h:1/proxy/")
                        .build()
                        .baseUrl()
                        .toString())
                .isEqualTo("http://h:1/proxy/");
        assertThat(Rlhf4jClient.builder()
                        .adminToken("secret")
                        .apiKey("key")
                        .build()
                        .toString())
                .doesNotContain("secret", "key");
    }
}
