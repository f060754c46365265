package io.rlhf4j.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * A registered version as the admin API lists it. The manifest stays raw JSON on purpose: it holds the
 * lineage, metrics and gate results of whatever pipeline produced the version, which evolve faster than a
 * client release.
 *
 * @param version the version id ({@code "1"}, {@code "2"}, ...)
 * @param kind {@code policy} or {@code reward}
 * @param parent the version that was active when this one was registered, or null
 * @param state {@code registered} or {@code unregistered}
 * @param createdAt when it was registered
 * @param active whether it is the active policy or the active reward model
 * @param manifest the export's {@code manifest.json}
 */
public record ModelVersion(
        String version,
        String kind,
        String parent,
        String state,
        Instant createdAt,
        boolean active,
        JsonNode manifest) {

    public static final String POLICY = "policy";
    public static final String REWARD = "reward";

    public boolean isReward() {
        return REWARD.equals(kind);
    }
}
