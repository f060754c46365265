package io.rlhf4j.serving.loop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.loop.PipelineProgress;
import io.rlhf4j.core.loop.PipelineStages;
import io.rlhf4j.core.store.TrainingRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** What a training run's directory holds besides its checkpoints, as the loop reads it. */
final class RunFiles {

    /** What the run was asked to do. */
    static final String REQUEST = "request.json";
    /** How far the child has come, replaced atomically by it. */
    static final String PROGRESS = "progress.json";
    /** How many times the run has been launched. */
    static final String ATTEMPTS = "attempts";
    /** The child's output. */
    static final String LOG = "pipeline.log";

    private static final ObjectMapper JSON = new ObjectMapper();

    private RunFiles() {}

    static int attempts(TrainingRun r) {
        try {
            return Integer.parseInt(Files.readString(Path.of(r.dir(), ATTEMPTS)).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /**
     * {@code run} with the stage, progress and snapshot its child last reported, if it reported any
     * that could be read (the child replaces the file atomically: an unreadable one is read next time).
     */
    static Optional<TrainingRun> progressed(TrainingRun run) {
        Optional<PipelineProgress> p;
        try {
            p = PipelineProgress.read(Path.of(run.dir(), PROGRESS));
        } catch (IOException e) {
            return Optional.empty();
        }
        return p.map(r -> {
            TrainingRun updated = run.withProgress(r.stage(), r.progress(), System.currentTimeMillis());
            return r.snapshot() == null ? updated : updated.withSnapshot(r.snapshot(), updated.updatedAt());
        });
    }

    /** The log's last non-blank line: what a failed run's error says. */
    static String lastLine(Path dir) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve(LOG), StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (!lines.get(i).isBlank()) {
                    return lines.get(i).strip();
                }
            }
        } catch (IOException e) {
            return "(no log)";
        }
        return "(empty log)";
    }

    /** Every stage's {@code metrics.jsonl}, each row tagged with its stage. */
    static List<JsonNode> metrics(TrainingRun run) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String stage : PipelineStages.ALL) {
            Path f = Path.of(run.dir(), "pipeline", stage, "metrics.jsonl");
            if (!Files.exists(f)) {
                continue;
            }
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    ObjectNode row = (ObjectNode) JSON.readTree(line);
                    row.put("stage", stage);
                    out.add(row);
                }
            }
        }
        return out;
    }
}
