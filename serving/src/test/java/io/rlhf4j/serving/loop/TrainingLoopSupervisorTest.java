package io.rlhf4j.serving.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.registry.Registry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    @Test
    void aStoreFailureWhileARunIsFollowedDoesNotOrphanItsChild() throws Exception {
        assumeTrue(Files.isExecutable(SLEEP), SLEEP + " is not installed");
        Store store = Store.openSqlite(tmp.resolve("data"));
        String marker = Long.toString(600 + (System.nanoTime() % 97)); // a sleep length only this test uses
        LoopOptions options = LoopOptions.enabled(request -> List.of(SLEEP.toString(), marker), tmp.resolve("base"));
        TrainingLoop loop = new TrainingLoop(
                options, store, new Registry(tmp.resolve("data"), store), tmp.resolve("data"), Map.of(), v -> {});
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
