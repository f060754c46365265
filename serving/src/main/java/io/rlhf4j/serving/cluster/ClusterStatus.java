package io.rlhf4j.serving.cluster;

import io.rlhf4j.core.store.Replica;
import java.util.List;
import java.util.Objects;

/**
 * The cluster at one moment, as {@code GET /admin/cluster} shows it.
 *
 * @param activePolicy the policy version the store marks active, or null
 * @param activeReward the reward model the store marks active, or null
 * @param leader the replica holding the training lease, or null
 * @param replicas every replica with a row, alive or not
 * @param converged whether every live replica serves the active versions
 */
public record ClusterStatus(
        String activePolicy, String activeReward, String leader, List<Member> replicas, boolean converged) {

    /** One replica's row, with whether its heartbeat is recent and whether it serves the active versions. */
    public record Member(Replica replica, long heartbeatAgeMs, boolean alive, boolean current) {}

    static ClusterStatus of(
            String policy, String reward, String leader, List<Replica> rows, long now, long deadAfterMs) {
        List<Member> members = rows.stream()
                .map(r -> new Member(
                        r,
                        now - r.heartbeatAt(),
                        r.alive(now, deadAfterMs),
                        Objects.equals(policy, r.policyVersion()) && Objects.equals(reward, r.rewardVersion())))
                .toList();
        boolean converged = members.stream().filter(Member::alive).allMatch(Member::current)
                && members.stream().anyMatch(Member::alive);
        return new ClusterStatus(policy, reward, leader, members, converged);
    }
}
