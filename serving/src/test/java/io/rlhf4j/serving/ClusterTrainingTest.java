package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rlhf4j.core.store.ClusterRepository;
import io.rlhf4j.core.store.Judgement;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.TrainingRun;
import io.rlhf4j.serving.cluster.ClusterOptions;
import io.rlhf4j.serving.loop.LoopOptions;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One training run per cluster: two replicas with the loop on share one PostgreSQL and one model
 * store; 400 judgements start exactly one run, on whichever replica holds the training lease; when that
 * replica loses the store mid-run (as a dead or partitioned one does) it stops its child, the other
 * takes the lease once it expires, resumes the same run, and exactly one candidate is registered.
 *
 * <p>The pipeline is a real child process that waits and then writes a real export (the demo model):
 * what is under test is the supervision of runs, not training, which the pipeline tests cover.
 */
class ClusterTrainingTest {

    static final Path SH = Path.of("/bin/sh");

    @TempDir
    Path tmp;

    @Test
    void fourHundredJudgementsStartOneRunThatSurvivesItsSupervisorsLoss() throws Exception {
        assumeTrue(Files.isExecutable(SH), SH + " is not installed");
        Path export = TestServers.export(TestServers.DEMO, tmp.resolve("candidate"), false);
        // Each attempt waits, then publishes the export atomically; it counts its attempts in the run dir.
        String script = "d=$(dirname \"$1\"); echo attempt >> \"$d/attempts.log\"; sleep 4; " + "cp -r '" + export
                + "' \"$d/export.tmp\" && mv \"$d/export.tmp\" \"$d/export\"";
        LoopOptions loop = LoopOptions.enabled(
                        request -> List.of(SH.toString(), "-c", script, "pipeline", request.toString()),
                        tmp.resolve("base"))
                .withEveryJudgements(400);
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            String url = postgres.getJdbcUrl("postgres", "postgres");
            List<ServingApp> replicas = new ArrayList<>();
            try {
                for (String name : List.of("a", "b")) {
                    replicas.add(ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data-" + name))
                            .withPort(0)
                            .withDatabase(url, "postgres", "postgres")
                            .withLoop(loop)
                            .withCluster(ClusterOptions.single()
                                    .withModelStore(tmp.resolve("shared").toString())
                                    .withReplicaId(name)
                                    .withHeartbeat(Duration.ofMillis(300)))));
                }
                Store store = replicas.get(1).store();
                await(() -> store.cluster()
                        .leaseHolder(ClusterRepository.TRAINING_LEASE, System.currentTimeMillis())
                        .isPresent());
                String leader = store.cluster()
                        .leaseHolder(ClusterRepository.TRAINING_LEASE, System.currentTimeMillis())
                        .orElseThrow();
                judgements(store, 400);
                await(() -> !store.runs().all().isEmpty());
                Thread.sleep(1_500); // five ticks of both loops: a second run would have started by now
                assertThat(store.runs().all()).hasSize(1);
                TrainingRun run = store.runs().all().get(0);
                assertThat(Path.of(run.dir())).startsWith(tmp.resolve("shared"));

                // The leader loses its store mid-run: it can no longer renew the lease.
                ServingApp lost = replicas.get(leader.equals("a") ? 0 : 1);
                ServingApp survivor = replicas.get(leader.equals("a") ? 1 : 0);
                lost.store().close();
                await(() -> survivor.store()
                        .runs()
                        .find(run.id())
                        .map(TrainingRun::finished)
                        .orElse(false));
                TrainingRun done = survivor.store().runs().find(run.id()).orElseThrow();
                assertThat(done.state()).as(done.toString()).isEqualTo(TrainingRun.SUCCEEDED);
                assertThat(Files.readAllLines(Path.of(run.dir(), "attempts.log")))
                        .as("started once by the first supervisor and resumed once by the second")
                        .hasSize(2);
                assertThat(survivor.store()
                                .cluster()
                                .leaseHolder(ClusterRepository.TRAINING_LEASE, System.currentTimeMillis()))
                        .contains(leader.equals("a") ? "b" : "a");
                assertThat(survivor.store().runs().all()).hasSize(1);
                assertThat(survivor.store().versions().all())
                        .as("exactly one candidate registered")
                        .extracting(v -> v.version())
                        .containsExactly(done.candidate());
            } finally {
                replicas.forEach(ServingApp::close);
            }
        }
    }

    /** {@code n} demonstrations on one logged prompt: judgements as the loop counts them. */
    static void judgements(Store store, int n) {
        store.prompts()
                .log(List.of(new PromptLog(
                        "p1", "alice", true, "api", "define: dog", null, "{}", System.currentTimeMillis(), List.of())));
        for (int i = 0; i < n; i++) {
            store.judgements()
                    .addDemonstration(new Judgement.Demonstration(
                            "d" + i, "p1", "labeler-" + i, "a domesticated canine", "labeling", i));
        }
    }

    static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition met within 60 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
