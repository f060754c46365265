package io.rlhf4j.serving.cluster;

import java.time.Duration;

/**
 * How a server takes part in a cluster of replicas sharing one store.
 *
 * @param modelStore where every replica finds the model versions: a directory they all mount (which
 *     also holds training runs), or {@code s3://bucket/prefix}; null for a single server's
 *     {@code <dataDir>/models}
 * @param replicaId this replica's stable name (a pod name), or null for {@code <hostname>:<port>}
 * @param address how operators reach it, or null for {@code http://<hostname>:<port>}
 * @param heartbeat how often it writes its heartbeat and, without notifications, polls for promotions
 * @param s3Endpoint an S3-compatible server's URL for an {@code s3://} model store, or null for AWS
 */
public record ClusterOptions(
        String modelStore, String replicaId, String address, Duration heartbeat, String s3Endpoint) {

    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(1);

    /** A heartbeat older than this many intervals marks a replica gone. */
    public static final int MISSED_HEARTBEATS = 5;

    public ClusterOptions {
        if (heartbeat == null || heartbeat.isNegative() || heartbeat.isZero()) {
            throw new IllegalArgumentException("the cluster heartbeat must be a positive duration");
        }
    }

    public static ClusterOptions single() {
        return new ClusterOptions(null, null, null, DEFAULT_HEARTBEAT, null);
    }

    public ClusterOptions withModelStore(String p) {
        return new ClusterOptions(p, replicaId, address, heartbeat, s3Endpoint);
    }

    public ClusterOptions withReplicaId(String id) {
        return new ClusterOptions(modelStore, id, address, heartbeat, s3Endpoint);
    }

    public ClusterOptions withHeartbeat(Duration d) {
        return new ClusterOptions(modelStore, replicaId, address, d, s3Endpoint);
    }

    /** This, with the model store {@code s3://...} at {@code endpoint}. */
    public ClusterOptions withS3Endpoint(String endpoint) {
        return new ClusterOptions(modelStore, replicaId, address, heartbeat, endpoint);
    }

    /** How long a replica may go without a heartbeat before the others count it gone. */
    public Duration deadAfter() {
        return heartbeat.multipliedBy(MISSED_HEARTBEATS);
    }
}
