package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Training runs, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class RunRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void trainingRunsAreUpsertedAndListedNewestFirst(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            RunRepository runs = store.runs();
            TrainingRun a = new TrainingRun(
                    "run-1",
                    TrainingRun.QUEUED,
                    "manual",
                    "snapshot",
                    0,
                    null,
                    null,
                    null,
                    false,
                    null,
                    "/runs/run-1",
                    "{}",
                    1000,
                    1000);
            runs.save(a);
            runs.save(a.withProgress("ppo", 0.5, 2000).withSnapshot("snap-1", 2000));
            runs.save(new TrainingRun(
                    "run-2",
                    TrainingRun.QUEUED,
                    "schedule",
                    null,
                    0,
                    null,
                    null,
                    null,
                    false,
                    null,
                    "/runs/run-2",
                    "{}",
                    3000,
                    3000));
            assertThat(runs.all()).extracting(TrainingRun::id).containsExactly("run-2", "run-1");
            TrainingRun read = runs.find("run-1").orElseThrow();
            assertThat(read.state()).isEqualTo(TrainingRun.RUNNING);
            assertThat(read.stage()).isEqualTo("ppo");
            assertThat(read.progress()).isEqualTo(0.5);
            assertThat(read.snapshot()).isEqualTo("snap-1");
            runs.save(read.succeeded("3", "{\"passed\":true}", true, 4000));
            assertThat(runs.find("run-1").orElseThrow().finished()).isTrue();
            assertThat(runs.find("run-1").orElseThrow().promoted()).isTrue();
            assertThat(runs.find("run-9")).isEmpty();
        }
    }
}
