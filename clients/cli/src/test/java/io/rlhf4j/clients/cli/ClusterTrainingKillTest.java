package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.client.Rlhf4jClient;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.StoreSettings;
import io.rlhf4j.core.store.TrainingRun;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One training run per cluster, with real processes: two {@code rlhf4j serve} replicas with their loops
 * on share one PostgreSQL and one model directory; simulated users and labelers judge through the API;
 * a run started on the replica holding the training lease (the other refuses) is killed with its
 * replica (kill -9) mid-way. Its orphaned pipeline stops itself, the other replica takes the lease
 * once it expires, resumes the same run from its checkpoints in the shared directory, and exactly one
 * candidate is registered.
 */
class ClusterTrainingKillTest {

    @TempDir
    Path tmp;

    /**
     * A pipeline that trains for seconds: what the loop's tests run, where what matters is the run's
     * supervision, registration and serving rather than what it learns.
     */
    static Map<String, Object> tinyPipeline(int sftEpochs) {
        return Map.of(
                "sft", Map.of("epochs", sftEpochs),
                "rm", Map.of("epochs", 1),
                "ppo", Map.of("iterations", 2, "rollouts_per_iteration", 8, "max_new_tokens", 12),
                "eval",
                        Map.of(
                                "judge",
                                "gold",
                                "test_prompts",
                                16,
                                "min_win_rate",
                                0.0,
                                "max_pretraining_loss_increase",
                                10.0));
    }

    static final Map<String, Object> TINY = tinyPipeline(2);

    @Test
    void killingTheReplicaRunningTrainingLetsTheOtherResumeItAndRegisterOneCandidate() throws Exception {
        System.setProperty(
                "rlhf4j.home", Path.of("..", "..").toAbsolutePath().normalize().toString());
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
            StoreSettings db = new StoreSettings(tmp, pg.getJdbcUrl("postgres", "postgres"), "postgres", "postgres");
            Path models = tmp.resolve("models");
            List<ServerProcess> replicas = new ArrayList<>();
            try {
                for (String id : List.of("a", "b")) {
                    replicas.add(ServerProcess.replica(
                            tmp.resolve("data-" + id),
                            ReliabilityBench.freePort(),
                            tmp.resolve(id + ".log"),
                            db,
                            models,
                            id,
                            true));
                }
                URI a = URI.create("http://127.0.0.1:" + replicas.get(0).port());
                Rlhf4jClient admin = Rlhf4jClient.builder()
                        .baseUrl(a)
                        .adminToken(ReliabilityBench.ADMIN)
                        .timeout(Duration.ofMinutes(2))
                        .build();
                new DemoLoop(
                                a,
                                ReliabilityBench.ADMIN,
                                new DemoLoop.Options(120, 200, 80, 60, 4, TINY, Duration.ofMinutes(10), 3))
                        .judge(1, admin, line -> {});

                String leader;
                try (Store store = db.open()) {
                    await(() -> leader(replicas.get(0)) != null, Duration.ofSeconds(30));
                    leader = leader(replicas.get(0));
                    ServerProcess holder = replicas.get(leader.equals("a") ? 0 : 1);
                    ServerProcess other = replicas.get(leader.equals("a") ? 1 : 0);
                    assertThat(startRun(other).statusCode())
                            .as("only the lease holder starts runs")
                            .isEqualTo(409);
                    HttpResponse<String> started = startRun(holder);
                    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
                    String id = Json.MAPPER.readTree(started.body()).get("id").asText();
                    // Killed mid-way: once the child has trained its SFT model for a while.
                    await(
                            () -> store.runs()
                                    .find(id)
                                    .map(r -> r.progress() > 0.1)
                                    .orElse(false),
                            Duration.ofMinutes(5));
                    holder.kill();

                    await(() -> store.runs().find(id).map(TrainingRun::finished).orElse(false), Duration.ofMinutes(8));
                    TrainingRun run = store.runs().find(id).orElseThrow();
                    assertThat(run.state()).as(run.toString()).isEqualTo(TrainingRun.SUCCEEDED);
                    assertThat(store.runs().all()).hasSize(1);
                    assertThat(Files.readString(Path.of(run.dir(), "attempts")).strip())
                            .as("resumed once, by the other replica")
                            .isEqualTo("2");
                    assertThat(Files.readString(Path.of(run.dir(), "pipeline.log")))
                            .as("the orphaned pipeline stopped itself")
                            .contains("the server supervising this run")
                            .contains("is gone; stopping");
                    assertThat(store.versions().all())
                            .extracting(ModelVersion::version)
                            .as("the first version and exactly one candidate")
                            .containsExactly("1", run.candidate());
                    assertThat(leader(other)).isNotEqualTo(leader);
                    assertThat(other.healthy()).isTrue();
                }
            } finally {
                replicas.forEach(ServerProcess::close);
            }
        }
    }

    private static HttpResponse<String> startRun(ServerProcess replica) throws Exception {
        return HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + replica.port() + "/admin/training-runs"))
                                .header("authorization", "Bearer " + ReliabilityBench.ADMIN)
                                .header("content-type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(
                                        Json.MAPPER.writeValueAsString(Map.of("config", TINY))))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
    }

    /** The training lease's holder as {@code GET /admin/cluster} names it, or null. */
    private static String leader(ServerProcess via) {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + via.port() + "/admin/cluster"))
                                    .header("authorization", "Bearer " + ReliabilityBench.ADMIN)
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            return Json.MAPPER.readTree(r.body()).path("training_leader").asText(null);
        } catch (Exception e) {
            return null;
        }
    }

    private static void await(BooleanSupplier condition, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition met within " + limit).isLessThan(deadline);
            Thread.sleep(200);
        }
    }
}
