package io.rlhf4j.serving.cluster;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How a server takes part in a cluster of replicas sharing one store.
 *
 * @param modelStore the directory every replica mounts for model versions (and training runs), or null
 *     for a single server's {@code <dataDir>/models}
 * @param replicaId this replica's stable name (a pod name), or null for {@code <hostname>:<port>}
 * @param address how operators reach it, or null for {@code http://<hostname>:<port>}
 * @param heartbeat how often it writes its heartbeat and, without notifications, polls for promotions
 */
public record ClusterOptions(Path modelStore, String replicaId, String address, Duration heartbeat) {

    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(1);

    /** A heartbeat older than this many intervals marks a replica gone. */
    public static final int MISSED_HEARTBEATS = 5;

    public ClusterOptions {
        if (heartbeat == null || heartbeat.isNegative() || heartbeat.isZero()) {
            throw new IllegalArgumentException("the cluster heartbeat must be a positive duration");
        }
    }

    public static ClusterOptions single() {
        return new ClusterOptions(null, null, null, DEFAULT_HEARTBEAT);
    }

    public ClusterOptions withModelStore(Path p) {
        return new ClusterOptions(p, replicaId, address, heartbeat);
    }

    public ClusterOptions withReplicaId(String id) {
        return new ClusterOptions(modelStore, id, address, heartbeat);
    }

    public ClusterOptions withHeartbeat(Duration d) {
        return new ClusterOptions(modelStore, replicaId, address, d);
    }

    /** How long a replica may go without a heartbeat before the others count it gone. */
    public Duration deadAfter() {
        return heartbeat.multipliedBy(MISSED_HEARTBEATS);
    }
}
