package io.rlhf4j.serving;

import static io.rlhf4j.serving.LabelingApiTest.get;
import static io.rlhf4j.serving.LabelingApiTest.logPrompt;
import static io.rlhf4j.serving.LabelingApiTest.user;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.loop.SplitPolicy;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The labeling queue's lease, on a server whose clock the test moves: a task offered to one labeler
 * is nobody else's for ten minutes, then the queue offers it again.
 */
class LabelingLeaseTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void aLeaseExpiresAfterTenMinutesAndThePromptIsOfferedAgainNotBefore() throws Exception {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        Path export = TestServers.export(TestServers.DEMO, tmp.resolve("export"), false);
        try (ServingApp app = ServingApp.start(
                ServingApp.Config.defaults(tmp.resolve("data")).withPort(0).withAdminToken("t"), clock)) {
            app.registerAndActivate(export);
            String base = TestServers.base(app);
            String prompt = logPrompt(base, null, "dog (noun):", user(SplitPolicy.TRAIN, "leased"));
            assertThat(app.store().prompts().find(prompt).orElseThrow().createdAt())
                    .as("the prompt log is stamped by the server's clock")
                    .isEqualTo(clock.millis());

            JsonNode ann = task(get(base, null, "/v1/labeling/next?k=4&labeler=ann"));
            assertThat(ann.get("prompt_id").asText()).isEqualTo(prompt);
            assertThat(get(base, null, "/v1/labeling/next?k=4&labeler=bob").statusCode())
                    .as("leased to ann")
                    .isEqualTo(204);

            clock.advance(Duration.ofMinutes(10).minusSeconds(1));
            assertThat(get(base, null, "/v1/labeling/next?k=4&labeler=bob").statusCode())
                    .as("still ann's a second before the lease ends")
                    .isEqualTo(204);
            assertThat(task(get(base, null, "/v1/labeling/next?k=4&labeler=ann"))
                            .get("completions"))
                    .as("ann asking again gets the same task")
                    .isEqualTo(ann.get("completions"));

            clock.advance(Duration.ofSeconds(1));
            JsonNode bob = task(get(base, null, "/v1/labeling/next?k=4&labeler=bob"));
            assertThat(bob.get("prompt_id").asText())
                    .as("offered again after ten minutes")
                    .isEqualTo(prompt);
            assertThat(bob.get("completions")).hasSize(4).isNotEqualTo(ann.get("completions"));
            assertThat(get(base, null, "/v1/labeling/next?k=4&labeler=ann").statusCode())
                    .as("now leased to bob")
                    .isEqualTo(204);
        }
    }

    private static JsonNode task(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }
}
