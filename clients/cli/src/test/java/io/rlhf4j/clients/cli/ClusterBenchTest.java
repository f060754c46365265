package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code rlhf4j bench --suite cluster} as a user runs it, shortened: three {@code rlhf4j serve}
 * processes on loopback ports share one real PostgreSQL and one model directory; promotions and
 * rollbacks through any of them reach all three while a client streams to each, with no failed or
 * truncated response; a kill -9 of one under load loses no acknowledged prompt log and leaves the
 * others serving.
 */
class ClusterBenchTest {

    @BeforeAll
    static void home() {
        System.setProperty(
                "rlhf4j.home", Path.of("..", "..").toAbsolutePath().normalize().toString());
    }

    @Test
    void threeReplicaProcessesFollowEveryPromotionAndSurviveAKill() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
            CliTest.Run r = CliTest.run(
                    "bench",
                    "--suite",
                    "cluster",
                    "--db-url",
                    pg.getJdbcUrl("postgres", "postgres"),
                    "--replicas",
                    "3",
                    "--promotions",
                    "6");
            assertThat(r.code()).as(r.out() + r.err()).isZero();
            assertThat(r.out())
                    .containsPattern("replicas 1 +1 replica x 8 streams: [\\d.]+ tokens/s aggregate, .*, 0 failed")
                    .containsPattern("replicas 3 +3 replicas x 2 streams: [\\d.]+ tokens/s aggregate, .*, 0 failed")
                    .containsPattern("promotions +PASS 6 promotions and rollbacks through a rotating replica \\(0 "
                            + "refused\\), a stream on each: \\d+ ok, 0 failed, 0 truncated, 0 mixed-version")
                    .containsPattern("kill -9 +PASS one of 3 replicas killed under load: \\d+ prompt logs "
                            + "acknowledged \\(\\d+ by it\\), 0 missing");
            System.out.println(r.out());
        }
    }

    @Test
    void withoutPostgresqlItIsOneLineAndANonZeroExit() {
        CliTest.Run r = CliTest.run("bench", "--suite", "cluster", "--db-url", "jdbc:sqlite:x.db");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("needs a PostgreSQL server").doesNotContain("Exception");
    }
}
