package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rlhf4j.core.loop.ProcessId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run's process stops when the server supervising it is gone, with its own exit status, so
 * that a server killed with -9 (on a cluster, perhaps on another host than the next supervisor) leaves
 * no orphan writing the run another server resumes. The "supervisor" here is a real process that the
 * test kills; the run reads its request from a FIFO nobody writes, so it is still waiting when the
 * supervisor dies.
 */
class OrphanedRunTest {

    @TempDir
    Path tmp;

    private Process run(ProcessId supervisor, Path request) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(
                        SelfLauncher.rlhf4j(false, "train", "pipeline", "--request", request.toString()))
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("run.log").toFile());
        pb.environment().put(ProcessId.SUPERVISOR_ENV, supervisor.encode());
        return pb.start();
    }

    @Test
    void aRunWhoseSupervisorDiesStopsAtOnceAndSaysWhy() throws Exception {
        Path mkfifo = Path.of("/usr/bin/mkfifo");
        assumeTrue(Files.isExecutable(mkfifo), mkfifo + " is not installed");
        Path request = tmp.resolve("request.json");
        assertThat(new ProcessBuilder(mkfifo.toString(), request.toString())
                        .start()
                        .waitFor())
                .isZero();
        Process server = new ProcessBuilder("/bin/sleep", "600").start();
        Process child = run(ProcessId.of(server.toHandle()), request);
        try {
            Thread.sleep(3_000); // the child is up, blocked on its request
            assertThat(child.isAlive())
                    .as(Files.readString(tmp.resolve("run.log")))
                    .isTrue();
            server.destroyForcibly().waitFor();
            assertThat(child.waitFor(30, TimeUnit.SECONDS))
                    .as("the run stopped")
                    .isTrue();
            assertThat(child.exitValue()).isEqualTo(PipelineCommand.ORPHANED);
            assertThat(Files.readString(tmp.resolve("run.log")))
                    .contains("the server supervising this run (process " + server.pid() + ") is gone");
        } finally {
            child.destroyForcibly();
            server.destroyForcibly();
        }
    }

    @Test
    void aRunStartedForASupervisorAlreadyGoneDoesNotStart() throws Exception {
        Process server = new ProcessBuilder("/bin/sleep", "600").start();
        ProcessId gone = ProcessId.of(server.toHandle());
        server.destroyForcibly().waitFor();
        Process child = run(gone, tmp.resolve("never-read.json"));
        try {
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).isEqualTo(PipelineCommand.ORPHANED);
        } finally {
            child.destroyForcibly();
        }
    }
}
