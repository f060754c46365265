package io.rlhf4j.core.store;

/**
 * One serving replica as its last heartbeat left it in the store.
 *
 * @param id stable across restarts (a Kubernetes pod name, or host:port), so a restart replaces its row
 * @param address where it listens, for an operator
 * @param policyVersion the policy version it serves, null before one is loaded
 * @param rewardVersion the reward model it serves, or null
 * @param running requests generating now
 * @param queued requests waiting for a batch slot
 * @param error why it does not serve an active version, null when it does
 */
public record Replica(
        String id,
        String address,
        String policyVersion,
        String rewardVersion,
        int running,
        int queued,
        String error,
        long startedAt,
        long heartbeatAt) {

    /** Whether its heartbeat is recent enough at {@code now} to count it as serving. */
    public boolean alive(long now, long timeoutMs) {
        return now - heartbeatAt <= timeoutMs;
    }
}
