package io.rlhf4j.trainer.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.optim.AdamW;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.OptionalInt;

/**
 * A stage's run directory as it was found: the run's identity ({@code kind} and {@code config}, which
 * a resumed run must match), its length, and the step an earlier run of it reached, if any. Saves go
 * through here so every checkpoint carries the same identity.
 */
public record StageState(RunDirectory run, String kind, JsonNode config, int totalSteps, OptionalInt resumedAt) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public boolean resumed() {
        return resumedAt.isPresent();
    }

    /** The step training continues from: 0 for a fresh run. */
    public int start() {
        return resumedAt.orElse(0);
    }

    /** An earlier run already did every step. */
    public boolean finished() {
        return resumed() && start() >= totalSteps;
    }

    /** A checkpoint after {@code step} steps, with optimizer moments (null: none) and extra files. */
    public void save(
            ModelConfig modelConfig,
            List<Tensor> tensors,
            AdamW optimizer,
            Tokenizer tokenizer,
            int step,
            List<String> metrics,
            AtomicDirectory.Filler extra)
            throws IOException {
        run.save(modelConfig, tensors, optimizer, tokenizer, kind, step, totalSteps, config, metrics, extra);
    }

    /**
     * The finished run: the result's weights, no optimizer state, and {@code manifest} as
     * {@code training_manifest.json}.
     */
    public void saveFinal(
            ModelConfig modelConfig,
            List<Tensor> tensors,
            Tokenizer tokenizer,
            List<String> metrics,
            ObjectNode manifest)
            throws IOException {
        saveFinal(modelConfig, tensors, tokenizer, metrics, manifest, null);
    }

    /** As above, with files of the stage's own ({@code extra}: a LoRA adapter beside the merged weights). */
    public void saveFinal(
            ModelConfig modelConfig,
            List<Tensor> tensors,
            Tokenizer tokenizer,
            List<String> metrics,
            ObjectNode manifest,
            AtomicDirectory.Filler extra)
            throws IOException {
        run.save(modelConfig, tensors, null, tokenizer, kind, totalSteps, totalSteps, config, metrics, dir -> {
            if (extra != null) {
                extra.fill(dir);
            }
            JSON.writeValue(dir.resolve(Layout.TRAINING_MANIFEST).toFile(), manifest);
            // The parent's generation defaults (an EOS list, sampling settings) outlive the stage.
            Path generation = Path.of(manifest.path("parent").asText("")).resolve(Checkpoint.GENERATION_CONFIG);
            if (manifest.hasNonNull("parent") && Files.isRegularFile(generation)) {
                Files.copy(generation, dir.resolve(Checkpoint.GENERATION_CONFIG), StandardCopyOption.REPLACE_EXISTING);
            }
        });
    }
}
