package io.rlhf4j.core.loop;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * A process as it can be named across processes: its PID and its start time, so that a recycled PID is
 * not taken for it. A run directory's PID file names the run's process this way (so that the next
 * server stops a child a killed one left), and a run's process is told its supervising server in
 * {@link #SUPERVISOR_ENV} (so that it stops when the server is gone: a server killed with -9 cannot
 * stop its child, and on a cluster the next supervisor may be on another host, where no PID file
 * reaches it).
 *
 * @param pid the process id
 * @param startedAt its start time in epoch milliseconds; 0 when it could not be read
 */
public record ProcessId(long pid, long startedAt) {

    /** The environment variable that names a run's supervising server. */
    public static final String SUPERVISOR_ENV = "RLHF4J_SUPERVISOR";

    public static ProcessId of(ProcessHandle p) {
        return new ProcessId(
                p.pid(), p.info().startInstant().map(Instant::toEpochMilli).orElse(0L));
    }

    /** This process. */
    public static ProcessId current() {
        return of(ProcessHandle.current());
    }

    /** {@code "<pid> <start millis>"}, as {@link #parse} reads it. */
    public String encode() {
        return pid + " " + startedAt;
    }

    /** The process {@code text} names; empty for blank text, an error naming the form for anything else. */
    public static Optional<ProcessId> parse(String text) {
        if (text == null || text.isBlank()) {
            return Optional.empty();
        }
        String[] f = text.strip().split(" ");
        try {
            return Optional.of(new ProcessId(Long.parseLong(f[0]), f.length > 1 ? Long.parseLong(f[1]) : 0));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expected '<pid> <start millis>', got '" + text + "'");
        }
    }

    /** The supervisor named in {@code env}, if any (a run started by hand has none). */
    public static Optional<ProcessId> supervisor(Map<String, String> env) {
        try {
            return parse(env.get(SUPERVISOR_ENV));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(SUPERVISOR_ENV + ": " + e.getMessage());
        }
    }

    /**
     * The process while it lives; empty once it is gone or its PID names another process (with no
     * start time, any live process with the PID).
     */
    public Optional<ProcessHandle> alive() {
        return ProcessHandle.of(pid)
                .filter(ProcessHandle::isAlive)
                .filter(h -> startedAt == 0
                        || h.info()
                                .startInstant()
                                .map(i -> Math.abs(i.toEpochMilli() - startedAt) < 1_000)
                                .orElse(false));
    }
}
