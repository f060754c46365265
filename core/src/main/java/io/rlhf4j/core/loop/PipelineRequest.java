package io.rlhf4j.core.loop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.rlhf4j.core.checkpoint.WeightFormat;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Path;

/**
 * What a training run is asked to do: build (or reuse) a snapshot from the store, run SFT, the reward
 * model and PPO(-ptx) on it, gate the candidate and export it. The server writes it into the run's
 * directory and the pipeline process reads it; both sides compile against this record, so neither
 * mirrors the other's argument list.
 *
 * @param dataDir the server's data directory: its store (unless the environment names PostgreSQL) and
 *     {@code snapshots/}
 * @param snapshot a built snapshot to train on; null to build one from the store
 * @param split how users are split; the labeling queue of the server that asks uses the same
 * @param heldOutLabelers rankings by labelers whose id starts with this go to the held-out set; empty: none
 * @param baseModel the checkpoint SFT starts from
 * @param out the run's working directory ({@code sft/}, {@code rm/}, {@code ppo/}, {@code eval/})
 * @param config the stages' settings (sections {@code sft}, {@code rm}, {@code ppo}, {@code eval}); null for
 *     the defaults
 * @param against the checkpoint the candidate must beat (the serving version); null: the run's own SFT model
 * @param selectWithRm a reward model to select the SFT checkpoint by; null: validation loss
 * @param export where the candidate's export goes; null: no export
 * @param progress where the run reports its {@link PipelineProgress}; null: nowhere
 * @param weights the policy variant the server serves, which the candidate's export must carry; null: fp32
 * @param firstSft the SFT model of the loop's first run, which the candidate is also judged against
 *     (the paper's yardstick across turns); null: this run is the first, its own SFT model is it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record PipelineRequest(
        Path dataDir,
        Path snapshot,
        SplitPolicy split,
        String heldOutLabelers,
        Path baseModel,
        Path out,
        JsonNode config,
        Path against,
        Path selectWithRm,
        Path export,
        Path progress,
        WeightFormat weights,
        Path firstSft) {

    public PipelineRequest {
        weights = weights == null ? WeightFormat.FP32 : weights;
        split = split == null ? SplitPolicy.DEFAULT : split;
        heldOutLabelers = heldOutLabelers == null ? "" : heldOutLabelers;
        if (baseModel == null || out == null) {
            throw new IllegalArgumentException("a pipeline request needs base_model and out");
        }
        if (snapshot == null && dataDir == null) {
            throw new IllegalArgumentException("a pipeline request needs a snapshot or a data_dir to build one from");
        }
    }

    public void write(Path file) throws IOException {
        Json.writeAtomically(file, this);
    }

    public static PipelineRequest read(Path file) throws IOException {
        return Json.read(file, PipelineRequest.class);
    }
}
