package io.rlhf4j.core.store;

/**
 * A background training run of the serving loop, as stored: where it is, what it produced and whether
 * its candidate passed the gate. {@code gateJson} is the evaluation's JSON object, or null before it.
 */
public record TrainingRun(
        String id,
        String state,
        String trigger,
        String stage,
        double progress,
        String snapshot,
        String candidate,
        String gateJson,
        boolean promoted,
        String error,
        String dir,
        String configJson,
        long createdAt,
        long updatedAt) {

    public static final String QUEUED = "queued";
    public static final String RUNNING = "running";
    public static final String SUCCEEDED = "succeeded";
    public static final String FAILED = "failed";

    public boolean finished() {
        return SUCCEEDED.equals(state) || FAILED.equals(state);
    }

    /** A run just asked for, before its first stage. */
    public static TrainingRun queued(String id, String trigger, String dir, String configJson, long at) {
        return new TrainingRun(
                id, QUEUED, trigger, "snapshot", 0, null, null, null, false, null, dir, configJson, at, at);
    }

    /** Its candidate registered as {@code version}: recorded before promotion, so a crash never registers it twice. */
    public TrainingRun registered(String version, String gate, long at) {
        return new TrainingRun(
                id,
                state,
                trigger,
                "register",
                progress,
                snapshot,
                version,
                gate,
                false,
                null,
                dir,
                configJson,
                createdAt,
                at);
    }

    public TrainingRun withProgress(String newStage, double newProgress, long at) {
        return new TrainingRun(
                id,
                RUNNING,
                trigger,
                newStage,
                newProgress,
                snapshot,
                candidate,
                gateJson,
                promoted,
                error,
                dir,
                configJson,
                createdAt,
                at);
    }

    public TrainingRun withSnapshot(String s, long at) {
        return new TrainingRun(
                id,
                state,
                trigger,
                stage,
                progress,
                s,
                candidate,
                gateJson,
                promoted,
                error,
                dir,
                configJson,
                createdAt,
                at);
    }

    public TrainingRun succeeded(String version, String gate, boolean wasPromoted, long at) {
        return new TrainingRun(
                id,
                SUCCEEDED,
                trigger,
                "done",
                1.0,
                snapshot,
                version,
                gate,
                wasPromoted,
                null,
                dir,
                configJson,
                createdAt,
                at);
    }

    /** The same run with a note of what went wrong (null: nothing). */
    public TrainingRun withError(String message) {
        return new TrainingRun(
                id,
                state,
                trigger,
                stage,
                progress,
                snapshot,
                candidate,
                gateJson,
                promoted,
                message,
                dir,
                configJson,
                createdAt,
                updatedAt);
    }

    public TrainingRun failed(String message, long at) {
        return new TrainingRun(
                id,
                FAILED,
                trigger,
                stage,
                progress,
                snapshot,
                candidate,
                gateJson,
                promoted,
                message,
                dir,
                configJson,
                createdAt,
                at);
    }
}
