package io.rlhf4j.core.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The files the server and the pipeline process exchange read back as what was written, or fail loudly. */
class LoopContractTest {

    @TempDir
    Path tmp;

    @Test
    void aPipelineRequestRoundTripsThroughItsFile() throws Exception {
        PipelineRequest r = new PipelineRequest(
                tmp.resolve("data"),
                null,
                new SplitPolicy(5, 15),
                "lab-x",
                tmp.resolve("base"),
                tmp.resolve("run"),
                Json.MAPPER.readTree("{\"ppo\": {\"iterations\": 2}}"),
                tmp.resolve("active"),
                null,
                tmp.resolve("export"),
                tmp.resolve("progress.json"),
                io.rlhf4j.core.checkpoint.WeightFormat.INT8,
                tmp.resolve("run-1/pipeline/sft"));
        Path f = tmp.resolve("request.json");
        r.write(f);
        assertThat(PipelineRequest.read(f)).isEqualTo(r);
        assertThat(Files.readString(f))
                .contains(
                        "\"held_out_labelers\"",
                        "\"validation_percent\" : 5",
                        "\"weights\" : \"int8\"",
                        "\"first_sft\"");
    }

    @Test
    void aRequestWithAFieldNoRecordHasIsRefused() throws Exception {
        Path f = tmp.resolve("request.json");
        Files.writeString(f, "{\"base_model\": \"/b\", \"out\": \"/o\", \"data_dir\": \"/d\", \"held_out\": \"x\"}");
        assertThatThrownBy(() -> PipelineRequest.read(f)).hasMessageContaining("held_out");
        Files.writeString(f, "{\"out\": \"/o\", \"data_dir\": \"/d\"}");
        assertThatThrownBy(() -> PipelineRequest.read(f)).hasMessageContaining("base_model");
    }

    @Test
    void progressIsReplacedWhole() throws Exception {
        Path f = tmp.resolve("progress.json");
        assertThat(PipelineProgress.read(f)).isEmpty();
        new PipelineProgress("sft", 0.2, null).write(f);
        new PipelineProgress("ppo", 0.6, "snap-3").write(f);
        assertThat(PipelineProgress.read(f)).contains(new PipelineProgress("ppo", 0.6, "snap-3"));
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("progress.json");
        }
    }

    @Test
    void theSplitIsStablePerUserAndFollowsThePercentages() {
        int test = 0;
        int validation = 0;
        for (int i = 0; i < 10_000; i++) {
            String split = SplitPolicy.DEFAULT.splitOf("user-" + i);
            assertThat(SplitPolicy.DEFAULT.splitOf("user-" + i)).isEqualTo(split);
            test += split.equals(SplitPolicy.TEST) ? 1 : 0;
            validation += split.equals(SplitPolicy.VALIDATION) ? 1 : 0;
        }
        assertThat(test).isBetween(850, 1150);
        assertThat(validation).isBetween(850, 1150);
        assertThatThrownBy(() -> new SplitPolicy(50, 50)).hasMessageContaining("training users");
    }
}
