package io.rlhf4j.serving.loop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.core.store.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console's charts get every stage's metrics, whichever policy stage the run's pipeline used. */
class TrainingRunMetricsTest {

    @TempDir
    Path tmp;

    @Test
    void aDpoRunsMetricsAreReadBackTaggedWithTheirStage() throws Exception {
        Path data = tmp.resolve("data");
        Path dir = data.resolve("runs").resolve("run-1");
        for (String stage : List.of("sft", "rm", "dpo", "eval")) {
            Path d = Files.createDirectories(dir.resolve("pipeline").resolve(stage));
            Files.writeString(d.resolve("metrics.jsonl"), "{\"step\":1,\"loss\":0.5}\n{\"step\":2,\"loss\":0.4}\n");
        }
        try (Store store = Store.openSqlite(data)) {
            TrainingLoop loop = TrainingLoopSupervisorTest.loop(
                    LoopOptions.enabled(request -> List.of("/bin/true"), tmp.resolve("base")), store, data);
            try {
                TrainingRun run = new TrainingRun(
                        "run-1",
                        TrainingRun.SUCCEEDED,
                        "manual",
                        "done",
                        1.0,
                        "snap-1",
                        null,
                        null,
                        false,
                        null,
                        dir.toString(),
                        "{}",
                        0,
                        0);
                List<JsonNode> rows = loop.metrics(run);
                assertThat(rows)
                        .extracting(r -> r.get("stage").asText())
                        .containsExactly("sft", "sft", "rm", "rm", "dpo", "dpo", "eval", "eval");
            } finally {
                loop.close();
            }
        }
    }
}
