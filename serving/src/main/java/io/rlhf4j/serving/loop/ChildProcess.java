package io.rlhf4j.serving.loop;

import io.rlhf4j.core.loop.ProcessId;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What keeps a training run to one process: the child's PID file in its run directory, and the lock
 * a server holds on the runs directory while it supervises them. A server killed with -9 leaves its
 * child running; the next server finds it by its PID file (the PID and the process's start time, so a
 * recycled PID is not mistaken for it) and stops it before the run resumes, so two processes never
 * write one run. A second server on the same data directory cannot take the lock, and starts no runs.
 */
final class ChildProcess {

    static final String PID_FILE = "child.pid";
    static final String LOCK_FILE = ".supervisor.lock";

    private ChildProcess() {}

    /** Records {@code p} as the run's process. */
    static void record(Path runDir, Process p) throws IOException {
        Files.writeString(runDir.resolve(PID_FILE), ProcessId.of(p.toHandle()).encode() + "\n", StandardCharsets.UTF_8);
    }

    /** The run's process, if its PID file names one still alive (the same process, not a reused PID). */
    static Optional<ProcessHandle> alive(Path runDir) {
        Optional<ProcessId> recorded;
        try {
            recorded = ProcessId.parse(Files.readString(runDir.resolve(PID_FILE), StandardCharsets.UTF_8));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
        // Without a start time a recycled PID cannot be told apart: nothing is stopped on its word.
        return recorded.filter(id -> id.startedAt() != 0).flatMap(ProcessId::alive);
    }

    /** Asks a process to stop, and makes it after ten seconds. */
    static void stop(ProcessHandle p) {
        p.destroy();
        try {
            p.onExit().get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            p.destroyForcibly();
            try {
                p.onExit().get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException gone) {
                LOG.warn("process {} did not exit after SIGKILL", p.pid());
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The supervisor's lock on {@code runsDir}, or null when another process (another server on the
     * same data directory) holds it. Held until the lock's channel is closed.
     */
    static FileLock supervise(Path runsDir) {
        try {
            Files.createDirectories(runsDir);
            Path file = runsDir.resolve(LOCK_FILE).toAbsolutePath().normalize();
            // A second loop in this JVM must not even open the file: closing any channel on it would
            // drop the process's (POSIX, per-process) lock that the first loop holds.
            if (!HELD.add(file)) {
                LOG.warn("another server in this process supervises the training runs in {}", runsDir);
                return null;
            }
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                HELD.remove(file);
                LOG.warn("another server supervises the training runs in {}: this one starts none", runsDir);
            }
            return lock;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot lock " + runsDir.resolve(LOCK_FILE), e);
        }
    }

    /** Lock files this JVM holds. */
    private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Gives up a lock from {@link #supervise}. */
    static void release(FileLock lock, Path runsDir) {
        try {
            lock.channel().close();
        } catch (IOException e) {
            LOG.warn("cannot release {}: {}", runsDir.resolve(LOCK_FILE), e.getMessage());
        } finally {
            HELD.remove(runsDir.resolve(LOCK_FILE).toAbsolutePath().normalize());
        }
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ChildProcess.class);
}
