package io.rlhf4j.trainer.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;

/**
 * What one training stage does inside {@link StageRunner}'s skeleton: the runner decides whether to
 * resume, counts steps, keeps the metrics, shows progress and asks for checkpoints; the stage trains.
 */
public interface Stage {

    /**
     * Continues a run that stopped after {@code step} steps: loads weights, optimizer moments and the
     * stage's own state from {@code run}; returns the metrics rows up to that step.
     */
    List<String> resume(RunDirectory run, int step) throws IOException;

    /** The rows a fresh run's metrics start with (an evaluation before any training), possibly none. */
    List<String> begin() throws IOException;

    /**
     * Called once, after {@link #resume} or {@link #begin} and before the first step: where a stage
     * turns on gradients, so that its opening evaluation runs without them as it always has.
     */
    default void beforeFirstStep() throws IOException {}

    /** Trains step {@code step} (counted from 0) and returns its metrics row. */
    ObjectNode step(int step) throws IOException;

    /** The progress bar's text after a step, from that step's row. */
    String progress(ObjectNode row);

    /** Whether to checkpoint once {@code done} steps are done (the runner adds the interruption point). */
    boolean checkpointAt(int done);

    /** Writes the run as it stands after {@code done} steps. */
    void save(StageState state, int done, List<String> metrics) throws IOException;
}
