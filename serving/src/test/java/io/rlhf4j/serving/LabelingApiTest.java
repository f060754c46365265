package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.loop.SplitPolicy;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The labeling API (docs/api.md, issue #6) over real HTTP: a logged prompt is offered with K fresh,
 * stored completions; a ranking is stored only when it is a valid ordering of that prompt's
 * completions, and every bad one is a 4xx with OpenAI's error body that stores nothing; test-split
 * users are held out; skips and demonstrations are recorded; only the labeler role may label.
 */
class LabelingApiTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final String ADMIN = "t";

    @TempDir
    static Path tmp;

    static Path export;
    static ServingApp app;
    static String base;

    /** A prompt offered to labeler "ann" with its four fresh completion ids, for the bad-ranking cases. */
    static String judged;

    static List<String> judgedIds;
    /** A completion of another prompt. */
    static String foreignCompletion;

    @BeforeAll
    static void start() throws Exception {
        app = TestServers.startDemo(tmp, ADMIN);
        base = TestServers.base(app);
        export = tmp.resolve("export");

        judged = logPrompt(base, null, "dog (noun):", user(SplitPolicy.TRAIN, "judged"));
        String other = logPrompt(base, null, "cat (noun):", user(SplitPolicy.TRAIN, "other"));
        foreignCompletion = other + "-0";
        JsonNode task = offer(base, null, "ann", judged);
        judgedIds = new ArrayList<>();
        task.get("completions").forEach(c -> judgedIds.add(c.get("id").asText()));
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
    }

    // ------------------------------------------------------------------ the happy path

    @Test
    void nextOffersATrainingUsersPromptWithKFreshStoredCompletions() throws Exception {
        String user = user(SplitPolicy.TRAIN, "happy");
        String prompt = logPrompt(base, null, "run (verb):", user);
        // The logged request's own completion is index 0, so the fresh ones continue at 1.
        assertThat(app.store().prompts().find(prompt).orElseThrow().completions())
                .hasSize(1);

        JsonNode task = offer(base, null, "happy-labeler", prompt);
        assertThat(task.get("prompt").asText()).isEqualTo("run (verb):");
        assertThat(task.get("model").asText()).isEqualTo("1");
        JsonNode cs = task.get("completions");
        assertThat(cs).hasSize(4);
        PromptLog stored = app.store().prompts().find(prompt).orElseThrow();
        assertThat(stored.completions()).hasSize(5);
        for (int i = 0; i < 4; i++) {
            JsonNode c = cs.get(i);
            assertThat(c.get("index").asInt()).isEqualTo(i + 1);
            assertThat(c.get("id").asText()).isEqualTo(prompt + "-" + (i + 1));
            PromptLog.Completion s = stored.completions().get(i + 1);
            assertThat(s.index()).isEqualTo(i + 1);
            assertThat(s.text()).isEqualTo(c.get("text").asText());
        }
        assertThat(stored.completions().stream().map(PromptLog.Completion::index))
                .doesNotHaveDuplicates();
    }

    @Test
    void kOfNextMustBeFourToNine() throws Exception {
        for (String k : List.of("1", "3", "10", "x")) {
            HttpResponse<String> r = get(base, null, "/v1/labeling/next?k=" + k + "&labeler=k-check");
            assertError(r, 400, "k", null);
        }
    }

    @Test
    void aGoodRankingWithTiesScoresAndFlagsIsStoredUnderTheLabeler() throws Exception {
        String prompt = logPrompt(base, null, "happy (adjective):", user(SplitPolicy.TRAIN, "good"));
        JsonNode task = offer(base, null, "bea", prompt);
        List<String> c = new ArrayList<>();
        task.get("completions").forEach(x -> c.add(x.get("id").asText()));
        int before = app.store().judgements().rankings().size();

        // c2 best, c1 and c3 tied second, c4 worst.
        String body = "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"bea\","
                + "\"ranking\":[[\"" + c.get(1) + "\"],[\"" + c.get(0) + "\",\"" + c.get(2) + "\"],[\"" + c.get(3)
                + "\"]],"
                + "\"scores\":{\"" + c.get(0) + "\":6,\"" + c.get(1) + "\":7,\"" + c.get(3) + "\":1},"
                + "\"flags\":{\"" + c.get(2) + "\":[\"hallucination\"],"
                + "\"" + c.get(3) + "\":[\"harmful_advice\",\"fails_to_follow_instruction\"]}}";
        HttpResponse<String> r = post(base, null, "/v1/labeling/rankings", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        JsonNode answer = JSON.readTree(r.body());
        assertThat(answer.get("prompt_id").asText()).isEqualTo(prompt);
        assertThat(answer.get("k").asInt()).isEqualTo(4);
        String id = answer.get("id").asText();

        List<Judgement.Ranking> all = app.store().judgements().rankings();
        assertThat(all).hasSize(before + 1);
        Judgement.Ranking stored =
                all.stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow();
        assertThat(stored.promptId()).isEqualTo(prompt);
        assertThat(stored.labelerId()).isEqualTo("bea");
        assertThat(stored.source()).isEqualTo("labeling");
        assertThat(stored.completions()).containsExactly(1, 2, 3, 4); // the store lists entries by index
        assertThat(stored.ranks()).containsExactly(1, 0, 1, 2);

        // A ranked prompt leaves the queue for everyone.
        assertThat(sweep(base, null, "after-bea")).doesNotContain(prompt);

        // The scores and flags, by completion index; c3 was flagged but not scored.
        List<Judgement.Label> labels = app.store().judgements().labels(id);
        assertThat(labels).extracting(Judgement.Label::completion).containsExactly(1, 2, 3, 4);
        assertThat(labels).extracting(Judgement.Label::score).containsExactly(6, 7, null, 1);
        assertThat(labels.get(0).flags()).isEmpty();
        assertThat(labels.get(1).flags()).isEmpty();
        assertThat(labels.get(2).flags()).containsExactly("hallucination");
        assertThat(labels.get(3).flags()).containsExactly("harmful_advice", "fails_to_follow_instruction");
    }

    // ------------------------------------------------------------------ bad rankings (issue #6)

    static Stream<Arguments> badRankings() {
        return Stream.of(
                Arguments.of(
                        "a completion id twice",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"],[\"%1\"]]}"),
                Arguments.of(
                        "a completion id twice within a tie",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\",\"%1\"],[\"%2\"]]}"),
                Arguments.of(
                        "a completion of another prompt",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%F\"]]}"),
                Arguments.of(
                        "an unknown completion id",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%P-99\"]]}"),
                Arguments.of(
                        "a completion id that is not a string",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[7]]}"),
                Arguments.of("K = 1", 400, "ranking", null, "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"]]}"),
                Arguments.of("an empty ranking", 400, "ranking", null, "{\"prompt_id\":\"%P\",\"ranking\":[]}"),
                Arguments.of("no ranking", 400, "ranking", null, "{\"prompt_id\":\"%P\"}"),
                Arguments.of(
                        "an empty tie group",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[],[\"%2\"]]}"),
                Arguments.of(
                        "everything tied",
                        400,
                        "ranking",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\",\"%2\",\"%3\",\"%4\"]]}"),
                Arguments.of(
                        "a score of 0",
                        400,
                        "scores",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"scores\":{\"%1\":0}}"),
                Arguments.of(
                        "a score of 8",
                        400,
                        "scores",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"scores\":{\"%2\":8}}"),
                Arguments.of(
                        "a fractional score",
                        400,
                        "scores",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"scores\":{\"%2\":4.5}}"),
                Arguments.of(
                        "a score for an unranked completion",
                        400,
                        "scores",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"scores\":{\"%3\":4}}"),
                Arguments.of(
                        "an unknown flag",
                        400,
                        "flags",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"flags\":{\"%1\":[\"rude\"]}}"),
                Arguments.of(
                        "flags that are not a list",
                        400,
                        "flags",
                        null,
                        "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\"],[\"%2\"]],\"flags\":{\"%1\":\"hallucination\"}}"),
                Arguments.of(
                        "a prompt that was never served",
                        404,
                        "prompt_id",
                        "prompt_not_found",
                        "{\"prompt_id\":\"cmpl-never-served-0\",\"ranking\":[[\"%1\"],[\"%2\"]]}"),
                Arguments.of("no prompt id", 400, "prompt_id", null, "{\"ranking\":[[\"%1\"],[\"%2\"]]}"),
                Arguments.of("malformed JSON", 400, null, null, "{\"prompt_id\":\"%P\",\"ranking\":[[\"%1\""),
                Arguments.of("a body that is not an object", 400, null, null, "[\"%1\",\"%2\"]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRankings")
    void aBadRankingIsA4xxWithOpenAisErrorBodyAndStoresNothing(
            String what, int status, String param, String code, String template) throws Exception {
        String body = template.replace("%P", judged)
                .replace("%F", foreignCompletion)
                .replace("%1", judgedIds.get(0))
                .replace("%2", judgedIds.get(1))
                .replace("%3", judgedIds.get(2))
                .replace("%4", judgedIds.get(3));
        List<String> before = rankingIds();
        HttpResponse<String> r = post(base, null, "/v1/labeling/rankings", body);
        assertError(r, status, param, code);
        assertThat(rankingIds()).as("rankings after " + what).isEqualTo(before);
        // Nothing half-stored either: the prompt still has exactly its own completions, and no labels.
        assertThat(app.store().prompts().find(judged).orElseThrow().completions())
                .hasSize(5);
    }

    @Test
    void onlyTheLeaseHolderRanksAndOnlyOnce() throws Exception {
        String prompt = logPrompt(base, null, "bird (noun):", user(SplitPolicy.TRAIN, "once"));
        JsonNode task = offer(base, null, "dee", prompt);
        List<String> c = new ArrayList<>();
        task.get("completions").forEach(x -> c.add(x.get("id").asText()));
        String body = "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"%L\",\"ranking\":[\"" + c.get(0) + "\",\""
                + c.get(1) + "\"]}";
        List<String> before = rankingIds();
        // Another labeler, who was never handed this task, cannot judge it.
        assertError(
                post(base, null, "/v1/labeling/rankings", body.replace("%L", "eve")), 409, "prompt_id", "not_leased");
        assertThat(rankingIds()).isEqualTo(before);
        expect(201, post(base, null, "/v1/labeling/rankings", body.replace("%L", "dee")));
        // The ranking ends the lease: the same labeler cannot rank the prompt a second time.
        assertError(
                post(base, null, "/v1/labeling/rankings", body.replace("%L", "dee")), 409, "prompt_id", "not_leased");
        assertThat(rankingIds()).hasSize(before.size() + 1);
        assertThat(app.store().judgements().rankings())
                .filteredOn(r -> r.promptId().equals(prompt))
                .extracting(Judgement.Ranking::labelerId)
                .containsExactly("dee");
    }

    @Test
    void aValidRankingOfTheBadCasesPromptStillWorksAfterAllTheRejections() throws Exception {
        // The rejected requests neither consumed nor broke the task: a valid ranking is still accepted.
        // (The bad cases may run before or after this; each checks nothing was stored by itself.)
        String prompt = logPrompt(base, null, "tree (noun):", user(SplitPolicy.TRAIN, "retry"));
        JsonNode task = offer(base, null, "cal", prompt);
        List<String> c = new ArrayList<>();
        task.get("completions").forEach(x -> c.add(x.get("id").asText()));
        List<String> before = rankingIds();
        assertError(
                post(
                        base,
                        null,
                        "/v1/labeling/rankings",
                        "{\"prompt_id\":\"" + prompt + "\",\"ranking\":[[\"" + c.get(0) + "\"],[\"" + c.get(0)
                                + "\"]]}"),
                400,
                "ranking",
                null);
        HttpResponse<String> ok = post(
                base,
                null,
                "/v1/labeling/rankings",
                "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"cal\",\"ranking\":[\"" + c.get(0) + "\",\"" + c.get(1)
                        + "\"]}");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
        assertThat(JSON.readTree(ok.body()).get("k").asInt()).isEqualTo(2);
        assertThat(rankingIds()).hasSize(before.size() + 1).containsAll(before);
    }

    @Test
    void aRankingOfMoreThanTwelveCompletionsIsRefused() throws Exception {
        String prompt = logPrompt(base, null, "eat (verb):", user(SplitPolicy.TRAIN, "many"));
        JsonNode first = offer(base, null, "max", prompt);
        // Asking again before judging hands back the same task, not K more completions.
        JsonNode again = JSON.readTree(expect(200, get(base, null, "/v1/labeling/next?k=4&labeler=max"))
                .body());
        assertThat(again.get("prompt_id").asText()).isEqualTo(prompt);
        assertThat(again.get("completions")).isEqualTo(first.get("completions"));
        assertThat(app.store().prompts().find(prompt).orElseThrow().completions())
                .hasSize(5);
        // More completions than a ranking may order (the store accepts them; the ranking does not).
        List<PromptLog.Completion> more = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            more.add(new PromptLog.Completion(0, "more " + i, 2, null, "stop"));
        }
        app.store().prompts().addCompletions(prompt, "1", more, System.currentTimeMillis());
        List<PromptLog.Completion> all =
                app.store().prompts().find(prompt).orElseThrow().completions();
        assertThat(all).hasSize(13);
        StringBuilder ranking = new StringBuilder();
        for (PromptLog.Completion c : all) {
            ranking.append(ranking.isEmpty() ? "" : ",")
                    .append("[\"")
                    .append(prompt)
                    .append('-')
                    .append(c.index())
                    .append("\"]");
        }
        List<String> before = rankingIds();
        assertError(
                post(
                        base,
                        null,
                        "/v1/labeling/rankings",
                        "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"max\"," + "\"ranking\":[" + ranking + "]}"),
                400,
                "ranking",
                null);
        assertThat(rankingIds()).isEqualTo(before);
    }

    // ------------------------------------------------------------------ the queue

    @Test
    void aTestSplitUsersPromptIsNeverOffered() throws Exception {
        String held = logPrompt(base, null, "eat (verb):", user(SplitPolicy.TEST, "held-out"));
        String offered = logPrompt(base, null, "red (adjective):", user(SplitPolicy.TRAIN, "offered"));
        List<String> seen = sweep(base, null, "sweeper");
        assertThat(seen).contains(offered).doesNotContain(held);
        // It was never sampled for labeling either: only the request's own completion is stored.
        assertThat(app.store().prompts().find(held).orElseThrow().completions()).hasSize(1);
    }

    @Test
    void aSkipStopsThePromptBeingOfferedToThatLabelerOnly() throws Exception {
        String prompt = logPrompt(base, null, "a small", user(SplitPolicy.TRAIN, "skipped"));
        offer(base, null, "sam", prompt);
        HttpResponse<String> skip = post(
                base,
                null,
                "/v1/labeling/skips",
                "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"sam\",\"reason\":\"unclear\"}");
        assertThat(skip.statusCode()).as(skip.body()).isEqualTo(201);
        assertThat(JSON.readTree(skip.body()).get("prompt_id").asText()).isEqualTo(prompt);
        assertThat(sweep(base, null, "sam")).doesNotContain(prompt);
        // Skipping is the labeler's own: another labeler still gets it (the skip also ended sam's lease).
        assertThat(sweep(base, null, "tom")).contains(prompt);

        assertError(
                post(base, null, "/v1/labeling/skips", "{\"prompt_id\":\"cmpl-never-served-0\",\"labeler\":\"sam\"}"),
                404,
                "prompt_id",
                "prompt_not_found");
    }

    @Test
    void aDemonstrationIsStoredAndTakesThePromptOutOfTheQueue() throws Exception {
        String prompt = logPrompt(base, null, "tree (noun):", user(SplitPolicy.TRAIN, "demo"));
        offer(base, null, "dee", prompt);
        HttpResponse<String> r = post(
                base,
                null,
                "/v1/labeling/demonstrations",
                "{\"prompt_id\":\"" + prompt + "\",\"labeler\":\"dee\",\"text\":\" a tall woody plant\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        String id = JSON.readTree(r.body()).get("id").asText();
        Judgement.Demonstration d = app.store().judgements().demonstrations().stream()
                .filter(x -> x.id().equals(id))
                .findFirst()
                .orElseThrow();
        assertThat(d.promptId()).isEqualTo(prompt);
        assertThat(d.labelerId()).isEqualTo("dee");
        assertThat(d.text()).isEqualTo(" a tall woody plant");
        assertThat(d.source()).isEqualTo("labeling");
        assertThat(sweep(base, null, "after-dee")).doesNotContain(prompt);

        int count = app.store().judgements().demonstrations().size();
        assertError(
                post(base, null, "/v1/labeling/demonstrations", "{\"prompt_id\":\"" + prompt + "\",\"text\":\"  \"}"),
                400,
                "text",
                null);
        assertError(
                post(base, null, "/v1/labeling/demonstrations", "{\"prompt_id\":\"" + prompt + "\"}"),
                400,
                "text",
                null);
        assertError(
                post(
                        base,
                        null,
                        "/v1/labeling/demonstrations",
                        "{\"prompt_id\":\"cmpl-never-served-0\",\"text\":\"x\"}"),
                404,
                "prompt_id",
                "prompt_not_found");
        assertError(post(base, null, "/v1/labeling/demonstrations", "{\"prompt_id\": "), 400, null, null);
        assertThat(app.store().judgements().demonstrations()).hasSize(count);
    }

    // ------------------------------------------------------------------ keys and roles

    @Test
    void withApiKeysOnlyTheLabelerRoleMayLabelAndItsJudgementsAreRecordedUnderTheKeysUser() throws Exception {
        try (ServingApp keyed = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("keyed")).withPort(0).withAdminToken(ADMIN))) {
            keyed.registerAndActivate(export);
            String kb = "http://127.0.0.1:" + keyed.port();
            // Logged in open mode, before the first key.
            String author = user(SplitPolicy.TRAIN, "keyed");
            String p1 = logPrompt(kb, null, "dog (noun):", author);
            String p2 = logPrompt(kb, null, "cat (noun):", author);
            String p3 = logPrompt(kb, null, "run (verb):", author);

            String userKey = newKey(kb, "{\"user\":\"ursula\",\"role\":\"user\"}");
            String labelerKey = newKey(kb, "{\"user\":\"lena\",\"role\":\"labeler\"}");

            // The user-role key: 403 not_a_labeler everywhere, nothing stored, nothing sampled.
            String rank = "{\"prompt_id\":\"" + p1 + "\",\"ranking\":[[\"" + p1 + "-0\"],[\"" + p1 + "-0\"]]}";
            assertError(get(kb, userKey, "/v1/labeling/next?k=4"), 403, null, "not_a_labeler");
            assertError(post(kb, userKey, "/v1/labeling/rankings", rank), 403, null, "not_a_labeler");
            assertError(
                    post(kb, userKey, "/v1/labeling/demonstrations", "{\"prompt_id\":\"" + p1 + "\",\"text\":\"x\"}"),
                    403,
                    null,
                    "not_a_labeler");
            assertError(
                    post(kb, userKey, "/v1/labeling/skips", "{\"prompt_id\":\"" + p1 + "\"}"),
                    403,
                    null,
                    "not_a_labeler");
            // Claiming to be a labeler in the body changes nothing.
            assertError(
                    post(kb, userKey, "/v1/labeling/skips", "{\"prompt_id\":\"" + p1 + "\",\"labeler\":\"lena\"}"),
                    403,
                    null,
                    "not_a_labeler");
            // No key at all is a 401 now that the server is out of open mode.
            assertError(get(kb, null, "/v1/labeling/next?k=4"), 401, null, "invalid_api_key");
            assertThat(keyed.store().judgements().rankings()).isEmpty();
            assertThat(keyed.store().judgements().demonstrations()).isEmpty();
            assertThat(keyed.store().prompts().find(p1).orElseThrow().completions())
                    .hasSize(1);
            assertThat(keyed.store().judgements().labelingCandidates("ursula", 100))
                    .extracting(PromptLog::id)
                    .contains(p1, p2, p3);

            // The labeler key works; a ?labeler= or body labeler cannot impersonate someone else.
            JsonNode t1 = JSON.readTree(expect(200, get(kb, labelerKey, "/v1/labeling/next?k=4&labeler=mallory"))
                    .body());
            assertThat(t1.get("prompt_id").asText()).isEqualTo(p1);
            assertThat(t1.get("completions")).hasSize(4);
            String c1 = t1.get("completions").get(0).get("id").asText();
            String c2 = t1.get("completions").get(1).get("id").asText();
            String rid = JSON.readTree(expect(
                                    201,
                                    post(
                                            kb,
                                            labelerKey,
                                            "/v1/labeling/rankings",
                                            "{\"prompt_id\":\"" + p1 + "\",\"labeler\":\"mallory\",\"ranking\":[[\""
                                                    + c1 + "\"],[\"" + c2 + "\"]]}"))
                            .body())
                    .get("id")
                    .asText();
            assertThat(keyed.store().judgements().rankings()).singleElement().satisfies(r -> {
                assertThat(r.id()).isEqualTo(rid);
                assertThat(r.labelerId()).isEqualTo("lena");
            });

            JsonNode t2 = JSON.readTree(
                    expect(200, get(kb, labelerKey, "/v1/labeling/next?k=4")).body());
            assertThat(t2.get("prompt_id").asText()).isEqualTo(p2);
            expect(
                    201,
                    post(
                            kb,
                            labelerKey,
                            "/v1/labeling/demonstrations",
                            "{\"prompt_id\":\"" + p2 + "\",\"labeler\":\"mallory\",\"text\":\" a small pet\"}"));
            assertThat(keyed.store().judgements().demonstrations())
                    .singleElement()
                    .satisfies(d -> assertThat(d.labelerId()).isEqualTo("lena"));

            JsonNode t3 = JSON.readTree(
                    expect(200, get(kb, labelerKey, "/v1/labeling/next?k=4")).body());
            assertThat(t3.get("prompt_id").asText()).isEqualTo(p3);
            expect(
                    201,
                    post(
                            kb,
                            labelerKey,
                            "/v1/labeling/skips",
                            "{\"prompt_id\":\"" + p3 + "\",\"labeler\":\"mallory\"}"));
            // The skip is lena's: p3 is out of her queue, still in mallory's.
            assertThat(keyed.store().judgements().labelingCandidates("lena", 100))
                    .extracting(PromptLog::id)
                    .doesNotContain(p3);
            assertThat(keyed.store().judgements().labelingCandidates("mallory", 100))
                    .extracting(PromptLog::id)
                    .contains(p3);
            assertThat(get(kb, labelerKey, "/v1/labeling/next?k=4").statusCode())
                    .isEqualTo(204);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A user id in the given split, as the server splits them (10% validation, 10% test). */
    static String user(String split, String prefix) {
        for (int i = 0; ; i++) {
            String u = prefix + "-" + i;
            if (SplitPolicy.DEFAULT.splitOf(u).equals(split)) {
                return u;
            }
        }
    }

    /** Sends one completion request in open mode as {@code user}; returns the logged prompt's id. */
    static String logPrompt(String base, String key, String prompt, String user) throws Exception {
        HttpResponse<String> r = post(
                base,
                key,
                "/v1/completions",
                "{\"prompt\":\"" + prompt + "\",\"max_tokens\":4,\"user\":\"" + user + "\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body()).get("id").asText() + "-0";
    }

    /**
     * Asks for tasks as {@code labeler} until {@code promptId} is offered, skipping the older prompts
     * in front of it (a skip is this labeler's only). Fails if the queue runs dry first.
     */
    static JsonNode offer(String base, String key, String labeler, String promptId) throws Exception {
        for (int i = 0; i < 50; i++) {
            HttpResponse<String> r = get(base, key, "/v1/labeling/next?k=4&labeler=" + labeler);
            assertThat(r.statusCode())
                    .as("waiting for " + promptId + ": " + r.body())
                    .isEqualTo(200);
            JsonNode task = JSON.readTree(r.body());
            if (task.get("prompt_id").asText().equals(promptId)) {
                return task;
            }
            skip(base, key, labeler, task.get("prompt_id").asText());
        }
        throw new AssertionError(promptId + " was not offered to " + labeler);
    }

    /** Every prompt the queue offers {@code labeler}, each skipped in turn, until it answers 204. */
    static List<String> sweep(String base, String key, String labeler) throws Exception {
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            HttpResponse<String> r = get(base, key, "/v1/labeling/next?k=4&labeler=" + labeler);
            if (r.statusCode() == 204) {
                assertThat(r.body()).isEmpty();
                return seen;
            }
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            String id = JSON.readTree(r.body()).get("prompt_id").asText();
            assertThat(seen).as("offered twice to " + labeler).doesNotContain(id);
            seen.add(id);
            skip(base, key, labeler, id);
        }
        throw new AssertionError("the queue never emptied for " + labeler + ": " + seen);
    }

    static void skip(String base, String key, String labeler, String promptId) throws Exception {
        expect(
                201,
                post(
                        base,
                        key,
                        "/v1/labeling/skips",
                        "{\"prompt_id\":\"" + promptId + "\",\"labeler\":\"" + labeler + "\"}"));
    }

    static String newKey(String base, String body) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/admin/keys"))
                        .header("content-type", "application/json")
                        .header("authorization", "Bearer " + ADMIN)
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body()).get("key").asText();
    }

    static List<String> rankingIds() {
        return app.store().judgements().rankings().stream()
                .map(Judgement.Ranking::id)
                .toList();
    }

    static HttpResponse<String> expect(int status, HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        return r;
    }

    /** The status, and OpenAI's error body: {"error": {"message", "type", "param", "code"}}. */
    static void assertError(HttpResponse<String> r, int status, String param, String code) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("application/json");
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertThat(e).as(r.body()).isNotNull();
        assertThat(e.has("message") && e.has("type") && e.has("param") && e.has("code"))
                .as(r.body())
                .isTrue();
        assertThat(e.get("message").asText()).isNotBlank();
        assertThat(e.get("type").asText())
                .isEqualTo(
                        status == 403 ? "permission_error" : status >= 500 ? "server_error" : "invalid_request_error");
        if (param != null) {
            assertThat(e.get("param").asText()).as(r.body()).isEqualTo(param);
        }
        if (code != null) {
            assertThat(e.get("code").asText()).as(r.body()).isEqualTo(code);
        }
    }

    static HttpResponse<String> get(String base, String key, String path) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(60))
                .GET();
        if (key != null) {
            b.header("authorization", "Bearer " + key);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String base, String key, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(60))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("authorization", "Bearer " + key);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
