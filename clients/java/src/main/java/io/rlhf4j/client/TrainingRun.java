package io.rlhf4j.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * A background run of the training pipeline (snapshot, SFT, reward model, PPO, export, evaluate,
 * register) as the server reports it. The gate stays raw JSON: its fields (win rate, sample count,
 * thresholds) belong to the evaluation, not to the API.
 *
 * @param id the run's id, e.g. {@code run-3}
 * @param state {@code queued}, {@code running}, {@code succeeded} or {@code failed}
 * @param trigger {@code manual} or {@code schedule}
 * @param stage the pipeline stage in progress
 * @param progress 0..1 over the whole run
 * @param snapshot the data snapshot it trains on, once taken
 * @param candidate the version it registered, once it has
 * @param gate the evaluation of the candidate against the active policy, once run
 * @param promoted whether the candidate was promoted
 * @param error why it failed, for a failed run
 * @param createdAt when it was started
 * @param updatedAt when it last reported
 */
public record TrainingRun(
        String id,
        String state,
        String trigger,
        String stage,
        double progress,
        String snapshot,
        String candidate,
        JsonNode gate,
        boolean promoted,
        String error,
        Instant createdAt,
        Instant updatedAt) {

    public static final String QUEUED = "queued";
    public static final String RUNNING = "running";
    public static final String SUCCEEDED = "succeeded";
    public static final String FAILED = "failed";

    /** Whether the run has ended, one way or the other: nothing about it changes any more. */
    public boolean finished() {
        return succeeded() || failed();
    }

    public boolean succeeded() {
        return SUCCEEDED.equals(state);
    }

    public boolean failed() {
        return FAILED.equals(state);
    }

    /** Whether the candidate passed its gate; false before the gate ran. */
    public boolean gatePassed() {
        return gate != null && gate.path("passed").asBoolean(false);
    }
}
