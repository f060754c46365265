package io.rlhf4j.serving;

import static io.rlhf4j.serving.LabelingApiTest.assertError;
import static io.rlhf4j.serving.LabelingApiTest.expect;
import static io.rlhf4j.serving.LabelingApiTest.logPrompt;
import static io.rlhf4j.serving.LabelingApiTest.offer;
import static io.rlhf4j.serving.LabelingApiTest.post;
import static io.rlhf4j.serving.LabelingApiTest.skip;
import static io.rlhf4j.serving.LabelingApiTest.sweep;
import static io.rlhf4j.serving.LabelingApiTest.user;
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
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's say over their data (docs/api.md): {@code PUT /v1/consent} opts them out of training, for
 * the prompts already stored and every later one, whatever a request says, and out of the labeling
 * queue; opting back in restores it. {@code DELETE /admin/users/{user}} removes their prompts,
 * completions and the judgements of them, leaves everyone else's, and is audited.
 */
class ConsentAndDeletionTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final String ADMIN = "t";

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
        if (app != null) {
            app.close();
        }
    }

    @Test
    void anOptOutCoversPastAndLaterPromptsAndTheQueueUntilTheUserOptsBackIn() throws Exception {
        String carol = user(SplitPolicy.TRAIN, "carol");
        String dave = user(SplitPolicy.TRAIN, "dave");
        String c1 = logPrompt(base, null, "dog (noun):", carol);
        String c2 = logPrompt(base, null, "cat (noun):", carol);
        String d1 = logPrompt(base, null, "run (verb):", dave);
        assertThat(consent(c1)).isTrue();
        assertThat(consent(c2)).isTrue();

        JsonNode out =
                JSON.readTree(expect(200, put("/v1/consent", "{\"user\":\"" + carol + "\",\"training_consent\":false}"))
                        .body());
        assertThat(out.get("user").asText()).isEqualTo(carol);
        assertThat(out.get("training_consent").asBoolean()).isFalse();
        assertThat(out.get("prompts_updated").asInt()).isEqualTo(2);
        assertThat(consent(c1)).isFalse();
        assertThat(consent(c2)).isFalse();
        assertThat(consent(d1)).as("another user's prompt").isTrue();
        assertThat(app.store().consent().given(carol)).isFalse();

        // A later request cannot opt an opted-out user back in.
        String c3 = logPrompt(base, null, "happy (adjective):", carol);
        HttpResponse<String> asked = post(
                base,
                null,
                "/v1/completions",
                "{\"prompt\":\"tree (noun):\",\"max_tokens\":3," + "\"user\":\"" + carol
                        + "\",\"training_consent\":true}");
        String c4 = JSON.readTree(expect(200, asked).body()).get("id").asText() + "-0";
        assertThat(consent(c3)).isFalse();
        assertThat(consent(c4)).isFalse();
        assertThat(userPrompts(carol)).hasSize(4).noneMatch(PromptLog::consent);

        // Opting out again changes nothing more.
        assertThat(JSON.readTree(expect(
                                        200,
                                        put("/v1/consent", "{\"user\":\"" + carol + "\",\"training_consent\":false}"))
                                .body())
                        .get("prompts_updated")
                        .asInt())
                .isZero();

        // Out of the labeling queue; another user's prompt is still offered.
        assertThat(sweep(base, null, "consent-sweeper-1")).contains(d1).doesNotContain(c1, c2, c3, c4);

        // A bad body changes nothing.
        assertError(
                put("/v1/consent", "{\"user\":\"" + carol + "\",\"training_consent\":\"yes\"}"),
                400,
                "training_consent",
                null);
        assertError(put("/v1/consent", "{\"user\":\"" + carol + "\"}"), 400, "training_consent", null);
        assertError(put("/v1/consent", "{\"training_consent\": "), 400, null, null);
        assertThat(userPrompts(carol)).noneMatch(PromptLog::consent);

        // Opting back in restores every prompt and the queue.
        JsonNode in =
                JSON.readTree(expect(200, put("/v1/consent", "{\"user\":\"" + carol + "\",\"training_consent\":true}"))
                        .body());
        assertThat(in.get("training_consent").asBoolean()).isTrue();
        assertThat(in.get("prompts_updated").asInt()).isEqualTo(4);
        assertThat(userPrompts(carol)).hasSize(4).allMatch(PromptLog::consent);
        assertThat(app.store().consent().given(carol)).isTrue();
        assertThat(sweep(base, null, "consent-sweeper-2")).contains(c1, c2, c3, c4);

        // A consenting user may still keep one request out.
        HttpResponse<String> once = post(
                base,
                null,
                "/v1/completions",
                "{\"prompt\":\"eat (verb):\",\"max_tokens\":3," + "\"user\":\"" + carol
                        + "\",\"training_consent\":false}");
        String c5 = JSON.readTree(expect(200, once).body()).get("id").asText() + "-0";
        assertThat(consent(c5)).isFalse();
        assertThat(sweep(base, null, "consent-sweeper-3")).doesNotContain(c5);
    }

    @Test
    void deletingAUserRemovesTheirPromptsCompletionsAndJudgementsOnlyAndIsAudited() throws Exception {
        String erin = user(SplitPolicy.TRAIN, "erin");
        String frank = user(SplitPolicy.TRAIN, "frank");
        String e1 = logPrompt(base, null, "dog (noun):", erin);
        HttpResponse<String> two = post(
                base,
                null,
                "/v1/completions",
                "{\"prompt\":\"cat (noun):\",\"max_tokens\":3,\"n\":2,\"user\":\"" + erin + "\"}");
        String e2 = JSON.readTree(expect(200, two).body()).get("id").asText() + "-0";
        String f1 = logPrompt(base, null, "run (verb):", frank);

        // Judgements of both users' prompts: erin's e1 ranked with labels, e2 demonstrated; frank's ranked.
        String erinRanking = rankFirstTwo(offer(base, null, "lee", e1), "lee");
        expect(
                201,
                post(
                        base,
                        null,
                        "/v1/labeling/demonstrations",
                        "{\"prompt_id\":\""
                                + offer(base, null, "lee", e2).get("prompt_id").asText()
                                + "\",\"labeler\":\"lee\",\"text\":\" a small pet\"}"));
        String frankRanking = rankFirstTwo(offer(base, null, "lee", f1), "lee");
        // A skip of erin's prompt by another labeler (a row that points at her prompt too).
        skip(base, null, "kim", e1);
        int erinCompletions = app.store()
                        .prompts()
                        .find(e1)
                        .orElseThrow()
                        .completions()
                        .size()
                + app.store().prompts().find(e2).orElseThrow().completions().size();
        assertThat(erinCompletions).isEqualTo((1 + 4) + (2 + 4));

        PromptLog frankBefore = app.store().prompts().find(f1).orElseThrow();
        Judgement.Ranking frankRankingBefore = ranking(frankRanking);
        List<Judgement.Label> frankLabelsBefore = app.store().judgements().labels(frankRanking);
        int rankingsBefore = app.store().judgements().rankings().size();
        int demonstrationsBefore = app.store().judgements().demonstrations().size();
        int auditBefore = app.store().audit().entries().size();

        // Without the admin token: refused, nothing deleted.
        HttpResponse<String> anonymous = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/admin/users/" + erin))
                        .DELETE()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(anonymous, 401, null, "invalid_admin_token");
        assertThat(userPrompts(erin)).hasSize(2);

        JsonNode answer = JSON.readTree(expect(200, deleteUser(erin)).body());
        assertThat(answer.get("user").asText()).isEqualTo(erin);
        JsonNode deleted = answer.get("deleted");
        assertThat(deleted.get("prompts").asInt()).isEqualTo(2);
        assertThat(deleted.get("completions").asInt()).isEqualTo(erinCompletions);
        assertThat(deleted.get("rankings").asInt()).isEqualTo(1);
        assertThat(deleted.get("demonstrations").asInt()).isEqualTo(1);
        assertThat(answer.get("model_versions").isArray()).isTrue();
        assertThat(answer.get("model_versions")).isEmpty(); // no version here was trained on a snapshot
        assertThat(answer.get("snapshots").isArray()).isTrue();

        // Erin's data is gone...
        assertThat(app.store().prompts().find(e1)).isEmpty();
        assertThat(app.store().prompts().find(e2)).isEmpty();
        assertThat(userPrompts(erin)).isEmpty();
        assertThat(app.store().judgements().rankings())
                .hasSize(rankingsBefore - 1)
                .noneMatch(r -> r.id().equals(erinRanking)
                        || r.promptId().equals(e1)
                        || r.promptId().equals(e2));
        assertThat(app.store().judgements().labels(erinRanking)).isEmpty();
        assertThat(app.store().judgements().demonstrations())
                .hasSize(demonstrationsBefore - 1)
                .noneMatch(d -> d.promptId().equals(e1) || d.promptId().equals(e2));
        assertError(
                post(
                        base,
                        null,
                        "/v1/labeling/rankings",
                        "{\"prompt_id\":\"" + e1 + "\",\"ranking\":[[\"" + e1 + "-1\"],[\"" + e1 + "-2\"]]}"),
                404,
                "prompt_id",
                "prompt_not_found");

        // ...everyone else's is intact...
        PromptLog frankAfter = app.store().prompts().find(f1).orElseThrow();
        assertThat(frankAfter.userId()).isEqualTo(frank);
        assertThat(frankAfter.completions())
                .extracting(PromptLog.Completion::text)
                .containsExactlyElementsOf(frankBefore.completions().stream()
                        .map(PromptLog.Completion::text)
                        .toList());
        Judgement.Ranking frankRankingAfter = ranking(frankRanking);
        assertThat(frankRankingAfter.completions()).isEqualTo(frankRankingBefore.completions());
        assertThat(frankRankingAfter.ranks()).isEqualTo(frankRankingBefore.ranks());
        assertThat(app.store().judgements().labels(frankRanking)).isEqualTo(frankLabelsBefore);

        // ...and the deletion is in the audit log.
        List<String> audit = app.store().audit().entries();
        assertThat(audit).hasSize(auditBefore + 1);
        assertThat(audit.get(audit.size() - 1)).contains("user_deleted").contains(erin);

        // Deleting again finds nothing.
        JsonNode again = JSON.readTree(expect(200, deleteUser(erin)).body()).get("deleted");
        assertThat(again.get("prompts").asInt()).isZero();
        assertThat(again.get("completions").asInt()).isZero();
        assertThat(again.get("rankings").asInt()).isZero();
        assertThat(again.get("demonstrations").asInt()).isZero();
        assertThat(app.store().prompts().find(f1)).isPresent();
    }

    // ------------------------------------------------------------------ helpers

    /** Ranks the task's first completion above its second, scoring both; returns the ranking id. */
    static String rankFirstTwo(JsonNode task, String labeler) throws Exception {
        String a = task.get("completions").get(0).get("id").asText();
        String b = task.get("completions").get(1).get("id").asText();
        HttpResponse<String> r = post(
                base,
                null,
                "/v1/labeling/rankings",
                "{\"prompt_id\":\""
                        + task.get("prompt_id").asText() + "\",\"labeler\":\"" + labeler + "\",\"ranking\":[[\"" + a
                        + "\"],[\"" + b + "\"]],\"scores\":{\"" + a + "\":5,\"" + b + "\":2},\"flags\":{\"" + b
                        + "\":[\"hallucination\"]}}");
        return JSON.readTree(expect(201, r).body()).get("id").asText();
    }

    static Judgement.Ranking ranking(String id) {
        return app.store().judgements().rankings().stream()
                .filter(r -> r.id().equals(id))
                .findFirst()
                .orElseThrow();
    }

    static boolean consent(String promptId) {
        return app.store().prompts().find(promptId).orElseThrow().consent();
    }

    static List<PromptLog> userPrompts(String user) {
        return app.store().prompts().recent(10_000).stream()
                .filter(p -> p.userId().equals(user))
                .toList();
    }

    @Test
    void aRequestInFlightWhenItsUserIsDeletedIsNotWrittenAfterwards() throws Exception {
        String gil = user(SplitPolicy.TRAIN, "gil");
        StringBuilder prompts = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            prompts.append(i == 0 ? "" : ",").append("\"dog (noun):\"");
        }
        // Long enough (16 prompts x 4 x 100 tokens) to be generating while the deletion runs.
        var inFlight = HTTP.sendAsync(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":[" + prompts
                                + "],\"n\":4,\"max_tokens\":100,\"ignore_eos\":true,\"user\":\"" + gil + "\"}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (app.router().current().inFlight() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(app.router().current().inFlight())
                .as("the request is generating")
                .isPositive();
        expect(200, deleteUser(gil));
        assertThat(inFlight.isDone())
                .as("the deletion did not wait for the generation")
                .isFalse();
        assertThat(inFlight.join().statusCode()).isEqualTo(200);
        assertThat(app.store().prompts().recent(Integer.MAX_VALUE))
                .extracting(PromptLog::userId)
                .as("its log committed after the deletion and was dropped")
                .doesNotContain(gil);
    }

    static HttpResponse<String> put(String path, String body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .timeout(Duration.ofSeconds(60))
                        .header("content-type", "application/json")
                        .PUT(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> deleteUser(String user) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/admin/users/" + user))
                        .header("authorization", "Bearer " + ADMIN)
                        .timeout(Duration.ofSeconds(60))
                        .DELETE()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
