package io.rlhf4j.serving.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.TrainingRun;
import io.rlhf4j.serving.registry.Registry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop never loses its child: a store that fails while a run is followed leaves the process
 * known, and closing the loop stops it. The "pipeline" here is a real process that just waits.
 */
class TrainingLoopSupervisorTest {

    static final Path SLEEP = Path.of("/bin/sleep");

    @TempDir
    Path tmp;

    /** A single server's loop on {@code data} that serves fp32 and promotes nothing. */
    static TrainingLoop loop(LoopOptions options, Store store, Path data) throws java.io.IOException {
        return new TrainingLoop(
                options,
                store,
                new Registry(data, store),
                data,
                Map.of(),
                io.rlhf4j.core.checkpoint.WeightFormat.FP32,
                null,
                TrainingLoop.SINGLE_SERVER_TICK,
                v -> {});
    }

    @Test
    void aStoreFailureWhileARunIsFollowedDoesNotOrphanItsChild() throws Exception {
        assumeTrue(Files.isExecutable(SLEEP), SLEEP + " is not installed");
        Store store = Store.openSqlite(tmp.resolve("data"));
        String marker = Long.toString(600 + (System.nanoTime() % 97)); // a sleep length only this test uses
        LoopOptions options = LoopOptions.enabled(request -> List.of(SLEEP.toString(), marker), tmp.resolve("base"));
        TrainingLoop loop = loop(options, store, tmp.resolve("data"));
        try {
            loop.start("test", null);
            ProcessHandle child = waitForChild(marker);
            // The store goes away under the running run: progress cannot be recorded for a while.
            store.close();
            Thread.sleep(2_500);
            assertThat(child.isAlive()).as("the run's process keeps running").isTrue();
        } finally {
            loop.close();
        }
        assertThat(findChild(marker)).as("closing the loop stopped its child").isEmpty();
    }

    @Test
    void aChildLeftRunningByAKilledServerIsStoppedBeforeItsRunResumesAndASecondServerStartsNone() throws Exception {
        assumeTrue(Files.isExecutable(SLEEP), SLEEP + " is not installed");
        Path data = tmp.resolve("data");
        Store store = Store.openSqlite(data);
        Path dir = data.resolve("runs").resolve("run-1");
        Process orphan = orphanedRun(store, dir, 0);
        String after = Long.toString(800 + (System.nanoTime() % 97));
        LoopOptions options = LoopOptions.enabled(request -> List.of(SLEEP.toString(), after), tmp.resolve("base"));
        TrainingLoop loop = loop(options, store, data);
        try {
            assertThat(orphan.waitFor(20, TimeUnit.SECONDS))
                    .as("the earlier server's child was stopped")
                    .isTrue();
            ProcessHandle resumed = waitForChild(after);
            assertThat(ChildProcess.alive(dir)).map(ProcessHandle::pid).hasValue(resumed.pid());

            TrainingLoop second = loop(options, store, data);
            try {
                assertThatThrownBy(() -> second.start("test", null))
                        .hasMessageContaining(
                                "another server on " + data.resolve("runs") + " supervises its training runs");
            } finally {
                second.close();
            }
            assertThat(resumed.isAlive())
                    .as("the second server left the run alone")
                    .isTrue();
        } finally {
            loop.close();
            orphan.destroyForcibly();
            store.close();
        }
        assertThat(findChild(after)).isEmpty();
    }

    @Test
    void aChildLeftByAKilledServerIsStoppedEvenWhenItsRunIsNotResumed() throws Exception {
        assumeTrue(Files.isExecutable(SLEEP), SLEEP + " is not installed");
        Path data = tmp.resolve("data");
        Store store = Store.openSqlite(data);
        Path dir = data.resolve("runs").resolve("run-1");
        Process orphan = orphanedRun(store, dir, 2); // its attempts are used up: it will be failed
        LoopOptions options = LoopOptions.enabled(request -> List.of(SLEEP.toString(), "1"), tmp.resolve("base"));
        TrainingLoop loop = loop(options, store, data);
        try {
            assertThat(orphan.waitFor(20, TimeUnit.SECONDS))
                    .as("the orphan was stopped")
                    .isTrue();
            assertThat(store.runs().find("run-1").orElseThrow().state()).isEqualTo(TrainingRun.FAILED);
        } finally {
            loop.close();
            orphan.destroyForcibly();
            store.close();
        }
    }

    /**
     * What a server killed with -9 leaves: a run whose row says running, after {@code attempts}
     * attempts, and its child (returned) still running.
     */
    static Process orphanedRun(Store store, Path dir, int attempts) throws Exception {
        Files.createDirectories(dir);
        if (attempts > 0) {
            Files.writeString(dir.resolve("attempts"), Integer.toString(attempts));
        }
        Process orphan = new ProcessBuilder(SLEEP.toString(), Long.toString(700 + (System.nanoTime() % 97))).start();
        ChildProcess.record(dir, orphan);
        long now = System.currentTimeMillis();
        store.runs()
                .save(new TrainingRun(
                        "run-1",
                        TrainingRun.RUNNING,
                        "test",
                        "sft",
                        0.3,
                        null,
                        null,
                        null,
                        false,
                        null,
                        dir.toString(),
                        "{}",
                        now,
                        now));
        return orphan;
    }

    static Optional<ProcessHandle> findChild(String marker) {
        return ProcessHandle.current()
                .descendants()
                .filter(ProcessHandle::isAlive)
                .filter(p -> p.info()
                        .arguments()
                        .map(a -> List.of(a).contains(marker))
                        .orElse(false))
                .findFirst();
    }

    static ProcessHandle waitForChild(String marker) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            Optional<ProcessHandle> p = findChild(marker);
            if (p.isPresent()) {
                return p.get();
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the run's process did not start");
    }
}
