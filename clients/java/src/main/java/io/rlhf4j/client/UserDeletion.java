package io.rlhf4j.client;

import java.util.List;

/**
 * What deleting a user's data removed, and what it could not: model versions already trained on snapshots
 * that held the user's data keep what they learnt, so they are listed for the operator to retrain or
 * retire.
 *
 * @param user the deleted user
 * @param deleted rows removed, by kind
 * @param modelVersions versions trained on snapshots holding the user's data
 * @param snapshots the snapshots that held it
 */
public record UserDeletion(String user, Counts deleted, List<String> modelVersions, List<String> snapshots) {

    public UserDeletion {
        deleted = deleted == null ? new Counts(0, 0, 0, 0) : deleted;
        modelVersions = Json.copy(modelVersions);
        snapshots = Json.copy(snapshots);
    }

    /** Rows deleted, by kind. */
    public record Counts(long prompts, long completions, long rankings, long demonstrations) {}
}
