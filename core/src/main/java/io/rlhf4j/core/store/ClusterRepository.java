package io.rlhf4j.core.store;

import java.util.List;
import java.util.Optional;

/**
 * What replicas sharing one store know of each other: their heartbeats, and leases on the roles only
 * one of them may hold at a time. A lease is a row rather than PostgreSQL's advisory lock so that it
 * lives in the same portable SQL as the rest, survives a pooled connection's recycling, and shows its
 * holder to every replica; its expiry is what hands the role on when a holder dies.
 */
public final class ClusterRepository {

    /** The lease whose holder supervises the cluster's training runs. */
    public static final String TRAINING_LEASE = "training";

    /** The lease whose holder registers the first version of an empty cluster (the bundled demo model). */
    public static final String BOOTSTRAP_LEASE = "bootstrap";

    private final Jdbc jdbc;

    ClusterRepository(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** Writes this replica's row, replacing its last heartbeat (or an earlier run's under the same id). */
    public void heartbeat(Replica r) {
        jdbc.update(
                "INSERT INTO replicas (id, address, policy_version, reward_version, running, queued, error, "
                        + "started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                        + "address = excluded.address, policy_version = excluded.policy_version, "
                        + "reward_version = excluded.reward_version, running = excluded.running, "
                        + "queued = excluded.queued, error = excluded.error, started_at = excluded.started_at, "
                        + "heartbeat_at = excluded.heartbeat_at",
                r.id(),
                r.address(),
                r.policyVersion(),
                r.rewardVersion(),
                r.running(),
                r.queued(),
                r.error(),
                r.startedAt(),
                r.heartbeatAt());
    }

    /** Every replica that has written a heartbeat, by id. */
    public List<Replica> replicas() {
        return jdbc.list(
                "SELECT id, address, policy_version, reward_version, running, queued, error, started_at, heartbeat_at "
                        + "FROM replicas ORDER BY id",
                r -> new Replica(
                        r.getString(1),
                        r.getString(2),
                        r.getString(3),
                        r.getString(4),
                        r.getInt(5),
                        r.getInt(6),
                        r.getString(7),
                        r.getLong(8),
                        r.getLong(9)));
    }

    /** A replica shutting down cleanly takes its row with it. */
    public void leave(String id) {
        jdbc.update("DELETE FROM replicas WHERE id = ?", id);
    }

    /**
     * Takes or renews the lease {@code name} for {@code holder} until {@code now + ttlMs}; true when
     * {@code holder} has it afterwards. It is granted when free, expired, or already this holder's.
     */
    public boolean tryLease(String name, String holder, long now, long ttlMs) {
        return jdbc.inTransaction(c -> {
            Jdbc.update(
                    c,
                    jdbc.insertIgnoringConflict("leases", "name, holder, expires_at", "name"),
                    name,
                    holder,
                    now + ttlMs);
            return Jdbc.update(
                            c,
                            "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)",
                            holder,
                            now + ttlMs,
                            name,
                            holder,
                            now)
                    == 1;
        });
    }

    /** Gives the lease up at once, if {@code holder} has it, so another need not wait out its expiry. */
    public void releaseLease(String name, String holder) {
        jdbc.update("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder);
    }

    /** Who holds the lease at {@code now}, if anyone. */
    public Optional<String> leaseHolder(String name, long now) {
        return jdbc.first(
                "SELECT holder FROM leases WHERE name = ? AND expires_at >= ?", r -> r.getString(1), name, now);
    }
}
