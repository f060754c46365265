package io.rlhf4j.core.loop;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How far a training run's pipeline has come, as the child process reports it to the server that
 * launched it: replaced atomically at each step, so a reader sees one whole report.
 *
 * @param stage {@code snapshot}, one of {@link PipelineStages} (the policy stage: {@code ppo}, {@code dpo} or
 *     {@code rloo}), {@code evaluate}, {@code export} or
 *     {@code done}
 * @param progress the run's fraction done, 0 to 1
 * @param snapshot the id of the snapshot it trains on, once known
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record PipelineProgress(String stage, double progress, String snapshot) {

    public void write(Path file) throws IOException {
        Json.writeAtomically(file, this);
    }

    /** The last report, if the child wrote one. */
    public static Optional<PipelineProgress> read(Path file) throws IOException {
        return Files.exists(file) ? Optional.of(Json.read(file, PipelineProgress.class)) : Optional.empty();
    }
}
