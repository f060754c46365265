package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.rlhf4j.client.ChatCompletion;
import io.rlhf4j.client.ChatRequest;
import io.rlhf4j.client.CompletionRequest;
import io.rlhf4j.client.ModelVersion;
import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.client.Rlhf4jException;
import io.rlhf4j.demo.Labelers;
import io.rlhf4j.serving.ServingApp;
import io.rlhf4j.serving.loop.LoopOptions;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One turn of the loop over real HTTP, as a deployment runs it: the server on the demo model,
 * simulated users and labelers using only the public API through the Java client, a training run in
 * the background (the real pipeline, in a child process), its candidate registered with lineage and
 * gate, promoted by the admin, serving completions, and rolled back.
 */
class LoopEndToEndTest {

    @TempDir
    Path tmp;

    @Test
    void aLoopTurnTrainsRegistersPromotesAndRollsBack() throws Exception {
        System.setProperty(
                "rlhf4j.home", Path.of("..", "..").toAbsolutePath().normalize().toString());
        LoopOptions loop = LoopOptions.enabled(new SelfLauncher(), DemoModel.locate())
                .withMaxAttempts(1)
                .withHeldOutLabelers(Labelers.HELD_OUT_PREFIX);
        try (ServingApp app = ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data"))
                .withPort(0)
                .withAdminToken("admin-token")
                .withLoop(loop))) {
            String first = app.registerAndActivate(ServeCommand.exported(DemoModel.locate()))
                    .version();
            URI base = URI.create("http://127.0.0.1:" + app.port());
            Rlhf4jClient admin = Rlhf4jClient.builder()
                    .baseUrl(base)
                    .adminToken("admin-token")
                    .build();

            Map<String, Object> tiny = ClusterTrainingKillTest.tinyPipeline(1);
            DemoLoop demo = new DemoLoop(
                    base, "admin-token", new DemoLoop.Options(120, 240, 90, 70, 4, tiny, Duration.ofMinutes(15), 5));
            List<String> progress = new ArrayList<>();
            DemoLoop.Turn turn = demo.turn(progress::add);

            assertThat(turn.error()).isNull();
            assertThat(turn.rankings()).isPositive();
            assertThat(turn.demonstrations()).isPositive();
            assertThat(progress).anyMatch(p -> p.contains("ppo"));
            assertThat(app.store().judgements().rankings()).hasSize(turn.rankings());
            assertThat(app.store().judgements().rankings())
                    .allSatisfy(r -> assertThat(r.labelerId()).startsWith("sim-labeler-"));

            // The candidate is registered with its lineage, metrics and gate, and waits for the admin.
            String candidate = admin.admin().trainingRun(turn.run()).candidate();
            assertThat(candidate).isNotNull().isNotEqualTo(first);
            assertThat(turn.version()).isEqualTo(first);
            ModelVersion v = admin.admin().versions().stream()
                    .filter(x -> x.version().equals(candidate))
                    .findFirst()
                    .orElseThrow();
            assertThat(v.parent()).isEqualTo(first);
            assertThat(v.manifest().path("gate").path("win_rate").isNumber()).isTrue();
            assertThat(v.manifest().path("gate").path("judge").asText()).isEqualTo("gold");
            assertThat(v.manifest().path("training").path("data_snapshot").asText())
                    .contains("snap-1");
            assertThat(admin.admin().trainingRunMetrics(turn.run()))
                    .anySatisfy(m -> assertThat(m.get("stage").asText()).isEqualTo("ppo"));

            // Promoted, it answers; rolled back, the first version answers again.
            admin.admin().promote(candidate);
            assertThat(admin.complete(CompletionRequest.builder()
                                    .prompt("Define: dog (noun):")
                                    .maxTokens(4)
                                    .build())
                            .model())
                    .isEqualTo(candidate);
            // It answers a demo task asked as a chat: the version's default template makes one user turn
            // the task's prompt, so the reply is the policy's own greedy answer to it.
            ChatCompletion chat = admin.chat(ChatRequest.builder()
                    .user("Define: dog (noun):")
                    .maxTokens(8)
                    .temperature(0)
                    .build());
            assertThat(chat.model()).isEqualTo(candidate);
            assertThat(chat.content())
                    .isNotBlank()
                    .isEqualTo(admin.complete(CompletionRequest.builder()
                                    .prompt("Define: dog (noun):")
                                    .maxTokens(8)
                                    .temperature(0)
                                    .build())
                            .text());
            admin.admin().rollback();
            assertThat(admin.complete(CompletionRequest.builder()
                                    .prompt("Define: dog (noun):")
                                    .maxTokens(4)
                                    .build())
                            .model())
                    .isEqualTo(first);

            // A judgement for a prompt never served is refused, and nothing stored is lost.
            int before = app.store().judgements().rankings().size();
            Rlhf4jException e = catchThrowableOfType(
                    Rlhf4jException.class,
                    () -> Rlhf4jClient.builder()
                            .baseUrl(base)
                            .labeler("sim-labeler-group-a-0")
                            .build()
                            .labeling()
                            .rank("no-such-prompt", List.of(List.of("x-1"), List.of("x-2"))));
            assertThat(e.status()).isEqualTo(404);
            assertThat(app.store().judgements().rankings()).hasSize(before);

            // The first run's SFT model is every later run's yardstick too: the first turn's is its own.
            assertThat(v.manifest().path("gate").path("win_rate_vs_first_sft").asDouble())
                    .isEqualTo(v.manifest().path("gate").path("win_rate_vs_sft").asDouble());
            DemoLoop.Turn second = demo.turn(progress::add);
            assertThat(second.error()).isNull();
            assertThat(second.winRateVsFirstSft()).isBetween(0.0, 1.0);
            Path secondRun =
                    Path.of(app.store().runs().find(second.run()).orElseThrow().dir());
            Path firstRun =
                    Path.of(app.store().runs().find(turn.run()).orElseThrow().dir());
            assertThat(io.rlhf4j.core.loop.PipelineRequest.read(secondRun.resolve("request.json"))
                            .firstSft())
                    .isEqualTo(firstRun.resolve("pipeline").resolve("sft"));
        }
    }
}
