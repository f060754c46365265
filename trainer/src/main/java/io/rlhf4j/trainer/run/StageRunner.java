package io.rlhf4j.trainer.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;

/**
 * The skeleton SFT, reward-model training, PPO and pretraining share: open the output directory as a
 * {@link RunDirectory} (resuming a run of the same configuration, refusing another), then either
 * restore or begin the metrics, train step by step with a progress bar, checkpoint when the stage asks
 * and at an interruption, and stop at the end or at {@code stopAfter}. The lineage manifest every
 * fine-tuning stage writes is built here too.
 */
public final class StageRunner {

    /** Where training stopped and the metrics rows so far. */
    public record Progress(int step, List<String> metrics) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    private final StageState state;
    private final String unit;
    private final PrintStream log;

    /**
     * @param config the run's identity: a directory holding a run with another one is refused
     * @param unit what a step is called in the log ("step", "iteration")
     */
    public StageRunner(Path out, String kind, JsonNode config, int totalSteps, String unit, PrintStream log)
            throws IOException {
        RunDirectory run = new RunDirectory(out);
        this.state = new StageState(run, kind, config, totalSteps, run.resumableStep(config, kind));
        this.unit = unit;
        this.log = log;
    }

    public StageState state() {
        return state;
    }

    /** Whether an earlier run already finished; says so in the log ({@code detail} follows "finished run"). */
    public boolean finished(String detail) {
        if (state.finished()) {
            log.printf(
                    "%s already holds the finished run%s; nothing to do%n",
                    state.run().path(), detail);
        }
        return state.finished();
    }

    /** Resumes or begins {@code stage}, then trains until the last step or {@code stopAfter}. */
    public Progress train(String task, Stage stage, int stopAfter) throws IOException {
        int start = state.start();
        List<String> metrics = new ArrayList<>();
        if (state.resumed()) {
            metrics.addAll(stage.resume(state.run(), start));
            log.printf("resuming %s at %s %d of %d%n", state.run().path(), unit, start, state.totalSteps());
        } else {
            metrics.addAll(stage.begin());
        }
        stage.beforeFirstStep();
        int step = start;
        try (ProgressBar bar = RunDirectory.progressBar(task, state.totalSteps(), log)) {
            bar.stepTo(start);
            while (step < state.totalSteps() && step < stopAfter) {
                ObjectNode row = stage.step(step);
                step++;
                metrics.add(JSONL.writeValueAsString(row));
                bar.stepTo(step);
                bar.setExtraMessage(stage.progress(row));
                if (stage.checkpointAt(step) || step == stopAfter) {
                    stage.save(state, step, metrics);
                }
            }
        }
        return new Progress(step, metrics);
    }

    /** A path as manifests and run identities record it. */
    public static String absolute(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    /**
     * The lineage every fine-tuning stage records: its kind, the checkpoint it started from (and that
     * checkpoint's weights' digest), other inputs in the given order, the data snapshot, the
     * hyper-parameters. The stage adds its {@code metrics}.
     */
    public static ObjectNode manifest(
            String kind, Path parent, List<Input> inputs, Path snapshot, Object hyperParameters) throws IOException {
        ObjectNode m = JSON.createObjectNode();
        m.put("kind", kind);
        m.put("parent", absolute(parent));
        m.put("parent_weights_sha256", Checkpoint.weightsSha256(parent));
        for (Input in : inputs) {
            m.put(in.key(), absolute(in.path()));
        }
        m.put("data_snapshot", absolute(snapshot));
        m.set("hyper_parameters", JSON.valueToTree(hyperParameters));
        return m;
    }

    /** A named input checkpoint of a stage besides its parent (PPO's reward model). */
    public record Input(String key, Path path) {}
}
