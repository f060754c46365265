package io.rlhf4j.core.loop;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * The server process that supervises a training run, as the run's process is told of it (in
 * {@link #ENV}): the run stops when its supervisor is gone. A server killed with -9 cannot stop its
 * child, and on a cluster the next supervisor may be on another host, where no PID file reaches it;
 * without this, the orphan would go on writing the run the next supervisor resumes.
 *
 * @param pid the supervisor's process id
 * @param startedAt its start time in epoch milliseconds, so a recycled PID is not taken for it
 */
public record Supervisor(long pid, long startedAt) {

    public static final String ENV = "RLHF4J_SUPERVISOR";

    /** This process, as the supervisor of the runs it starts. */
    public static Supervisor current() {
        ProcessHandle me = ProcessHandle.current();
        return new Supervisor(
                me.pid(), me.info().startInstant().map(Instant::toEpochMilli).orElse(0L));
    }

    /** The value of {@link #ENV}. */
    public String encode() {
        return pid + " " + startedAt;
    }

    /** The supervisor named in {@code env}, if any (a run started by hand has none). */
    public static Optional<Supervisor> fromEnvironment(Map<String, String> env) {
        String v = env.get(ENV);
        if (v == null || v.isBlank()) {
            return Optional.empty();
        }
        String[] f = v.strip().split(" ");
        try {
            return Optional.of(new Supervisor(Long.parseLong(f[0]), f.length > 1 ? Long.parseLong(f[1]) : 0));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(ENV + " must be '<pid> <start millis>', got '" + v + "'");
        }
    }

    /** The supervisor's process while it lives; empty once it is gone (or its PID was recycled). */
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
