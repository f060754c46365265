package io.rlhf4j.trainer.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.optim.AdamW;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A training run's output directory, which is a loadable checkpoint at every moment. Each save
 * replaces it atomically with the weights, the optimizer moments ({@code optimizer.safetensors}), the
 * step reached and the run's configuration ({@code trainer_state.json}), and the metrics so far
 * ({@code metrics.jsonl}). Running again on the directory resumes from that step, and refuses if the
 * configuration differs.
 */
public final class RunDirectory {

    public static final String STATE = "trainer_state.json";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String METRICS = "metrics.jsonl";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSONL = new ObjectMapper();

    private final Path out;

    public RunDirectory(Path out) {
        this.out = out;
    }

    public Path path() {
        return out;
    }

    /**
     * The step an earlier run of the same configuration reached, or empty when there is none. A
     * directory holding another run, or a checkpoint that is no run at all, is refused.
     */
    public OptionalInt resumableStep(JsonNode config, String kind) throws IOException {
        if (!Files.exists(out.resolve(STATE))) {
            if (Files.exists(out.resolve("config.json"))) {
                throw new IllegalArgumentException(
                        out + " holds a checkpoint that is not a " + kind + " run; choose another --out");
            }
            return OptionalInt.empty();
        }
        JsonNode state = JSON.readTree(out.resolve(STATE).toFile());
        // Through text and back, so numbers compare by value (a long written is an int read).
        JsonNode normalised = JSON.readTree(JSON.writeValueAsString(config));
        if (!kind.equals(state.path("kind").asText(kind)) || !normalised.equals(state.get("config"))) {
            throw new IllegalArgumentException(out + " holds a run with a different configuration; resume it with "
                    + "the same flags or choose another --out");
        }
        return OptionalInt.of(state.get("step").asInt());
    }

    /** Loads the weights and optimizer moments saved at {@code step}; returns the metrics up to it. */
    public List<String> restore(Decoder model, AdamW optimizer, int step) throws IOException {
        return restore(model::load, optimizer, step);
    }

    /** As {@link #restore(Decoder, AdamW, int)} for models with more than a decoder (a reward head). */
    public List<String> restore(
            java.util.function.Consumer<Map<String, io.rlhf4j.core.checkpoint.Tensor>> weights,
            AdamW optimizer,
            int step)
            throws IOException {
        weights.accept(Checkpoint.readWeights(out));
        if (optimizer != null) {
            optimizer.restore(SafeTensors.read(out.resolve(OPTIMIZER)), step);
        }
        return metricsUpTo(step);
    }

    public List<String> metricsUpTo(int step) throws IOException {
        List<String> metrics = new ArrayList<>();
        if (Files.exists(out.resolve(METRICS))) {
            for (String line : Files.readAllLines(out.resolve(METRICS), StandardCharsets.UTF_8)) {
                if (!line.isBlank() && JSONL.readTree(line).get("step").asInt() <= step) {
                    metrics.add(line);
                }
            }
        }
        return metrics;
    }

    /** Replaces the directory with the run as it stands at {@code step}. */
    public void save(
            Decoder model,
            AdamW optimizer,
            Tokenizer tokenizer,
            String kind,
            int step,
            int totalSteps,
            JsonNode config,
            List<String> metrics,
            AtomicDirectory.Filler extra)
            throws IOException {
        save(model.config(), model.toTensors(), optimizer, tokenizer, kind, step, totalSteps, config, metrics, extra);
    }

    /** As above, for any set of tensors (a decoder plus a reward head). */
    public void save(
            io.rlhf4j.core.config.ModelConfig modelConfig,
            List<io.rlhf4j.core.checkpoint.Tensor> tensors,
            AdamW optimizer,
            Tokenizer tokenizer,
            String kind,
            int step,
            int totalSteps,
            JsonNode config,
            List<String> metrics,
            AtomicDirectory.Filler extra)
            throws IOException {
        Checkpoint.write(out, modelConfig, tensors, tokenizer, dir -> {
            if (optimizer != null) {
                SafeTensors.write(dir.resolve(OPTIMIZER), optimizer.stateTensors(), Map.of());
            }
            ObjectNode state = JSON.createObjectNode();
            state.put("kind", kind);
            state.put("step", step);
            state.put("total_steps", totalSteps);
            state.set("config", config);
            JSON.writeValue(dir.resolve(STATE).toFile(), state);
            Files.write(dir.resolve(METRICS), metrics, StandardCharsets.UTF_8);
            if (extra != null) {
                extra.fill(dir);
            }
        });
    }

    /** The progress bar every training stage shows: steps, then loss and tokens/s as extra text. */
    public static ProgressBar progressBar(String task, int steps, PrintStream log) {
        return new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(1000)
                .continuousUpdate()
                .setMaxRenderedLength(100)
                .setConsumer(new ConsoleProgressBarConsumer(log))
                .build();
    }
}
