package io.rlhf4j.serving.cluster;

import io.rlhf4j.core.store.ActivationEvents;
import io.rlhf4j.core.store.ClusterRepository;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Replica;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.scheduler.Scheduler;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This server as one replica of many on a shared store. Its own thread follows the activations any
 * replica records (woken by PostgreSQL's notices, or by its heartbeat interval) by loading, verifying
 * and swapping in the active versions, and writes a heartbeat saying what it serves and how loaded it
 * is. A version it cannot load is reported in the heartbeat and not retried until another activation
 * is announced; the version it served stays serving. On SQLite there is only ever one replica, and
 * this is the same thread polling its own store.
 */
public final class ClusterMember implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterMember.class);
    private static final List<String> KINDS = List.of(ModelVersion.POLICY, ModelVersion.REWARD);

    private final Store store;
    private final ModelRouter router;
    private final ClusterOptions options;
    private final long startedAt = System.currentTimeMillis();
    private final ActivationEvents events;
    /** Per kind, the active version that failed to load here and why: not loaded again every beat. */
    private final Map<String, Failure> failures = new ConcurrentHashMap<>();

    private volatile String id;
    private volatile String address;
    private volatile boolean closed;
    private Thread thread;

    private record Failure(String version, String message) {}

    public ClusterMember(Store store, ModelRouter router, ClusterOptions options) {
        this.store = store;
        this.router = router;
        this.options = options;
        this.events = store.activationEvents();
    }

    /** This replica's name in the store; null until {@link #start}, which learns the port. */
    public String id() {
        return id;
    }

    /**
     * Names this replica by {@code port} (unless named by the options), loads the active versions now,
     * on the caller's thread (start-up serves before it returns), throwing if one cannot be loaded, and
     * then follows the store.
     */
    public void start(int port) throws IOException {
        String host = hostname();
        this.id = options.replicaId() != null ? options.replicaId() : host + ":" + port;
        this.address = options.address() != null ? options.address() : "http://" + host + ":" + port;
        sync();
        if (!failures.isEmpty()) {
            throw new IOException(errors());
        }
        heartbeat();
        thread = new Thread(this::run, "rlhf4j-cluster");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!closed) {
            boolean announced = false;
            try {
                announced = events.await(options.heartbeat());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (closed) {
                return;
            }
            if (announced) {
                failures.clear(); // a new activation: what failed before is tried again
            }
            try {
                sync();
                heartbeat();
            } catch (RuntimeException e) {
                // The store may be briefly unreachable; serving goes on with what is loaded.
                LOG.warn("replica {}: cannot reach the store: {}", id, e.getMessage());
            }
        }
    }

    /** Swaps in any active version this replica does not serve yet and has not failed to load. */
    void sync() {
        for (String kind : KINDS) {
            Optional<String> active = store.versions().active(kind);
            if (active.isEmpty() || active.get().equals(router.serving(kind))) {
                failures.remove(kind);
                continue;
            }
            String version = active.get();
            Failure failed = failures.get(kind);
            if (failed != null && failed.version().equals(version)) {
                continue;
            }
            try {
                router.follow(store.versions().find(version).orElseThrow());
                failures.remove(kind);
                LOG.info("replica {} follows the activation of {} version {}", id, kind, version);
            } catch (IOException | RuntimeException e) {
                String message = "cannot load " + kind + " version " + version + ": " + e.getMessage();
                failures.put(kind, new Failure(version, message));
                LOG.error("replica {}: {}; still serving {}", id, message, router.serving(kind));
            }
        }
    }

    private String errors() {
        return failures.isEmpty()
                ? null
                : String.join(
                        "; ", failures.values().stream().map(Failure::message).toList());
    }

    private void heartbeat() {
        Scheduler s = router.current();
        int inFlight = s == null ? 0 : s.inFlight();
        int queued = s == null ? 0 : s.queued();
        store.cluster()
                .heartbeat(new Replica(
                        id,
                        address,
                        router.serving(ModelVersion.POLICY),
                        router.serving(ModelVersion.REWARD),
                        Math.max(0, inFlight - queued),
                        queued,
                        errors(),
                        startedAt,
                        System.currentTimeMillis()));
    }

    /** The cluster as the store sees it now. */
    public ClusterStatus status() {
        long now = System.currentTimeMillis();
        return ClusterStatus.of(
                store.versions().active(ModelVersion.POLICY).orElse(null),
                store.versions().active(ModelVersion.REWARD).orElse(null),
                store.cluster()
                        .leaseHolder(ClusterRepository.TRAINING_LEASE, now)
                        .orElse(null),
                store.cluster().replicas(),
                now,
                options.deadAfter().toMillis());
    }

    private static String hostname() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    /** Stops following and takes this replica's row out of the store. */
    @Override
    public void close() {
        closed = true;
        events.close();
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            store.cluster().leave(id);
        } catch (RuntimeException e) {
            LOG.warn("replica {}: cannot remove its heartbeat: {}", id, e.getMessage());
        }
    }
}
