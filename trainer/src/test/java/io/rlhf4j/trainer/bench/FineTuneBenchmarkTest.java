package io.rlhf4j.trainer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.LoraConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full fine-tuning against LoRA (on an fp32 and an fp16 base) on the demo base model: every stage of
 * each mode runs and reports its estimate, a measured peak and finite rates, and LoRA's PPO estimate is
 * the smaller.
 */
class FineTuneBenchmarkTest {

    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    Path tmp;

    @Test
    void everyModeRunsEveryStageAndReportMemoryRatesAndMfu() throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        double sgemm = FineTuneBenchmark.sgemmFlops(256);
        assertThat(sgemm).isPositive();
        List<FineTuneBenchmark.Row> rows = new FineTuneBenchmark(
                        new PrintStream(printed, true, StandardCharsets.UTF_8), sgemm)
                .run("demo", BASE, LoraConfig.of(4, 8), tmp.resolve("work"));
        assertThat(rows).hasSize(9).allSatisfy(r -> {
            assertThat(r.refused()).isFalse();
            assertThat(r.estimateGib()).isPositive();
            assertThat(r.peakGib()).isPositive();
            assertThat(r.tokensPerSecond()).isPositive().isFinite();
            assertThat(r.mfu()).isPositive().isFinite();
        });
        assertThat(rows.get(5).estimateGib())
                .as("LoRA PPO")
                .isLessThan(rows.get(2).estimateGib());
        assertThat(printed.toString(StandardCharsets.UTF_8))
                .contains("full ", "lora4 fp32", "lora4 fp16", "ppo-ptx iter.");
        assertThat(tmp.resolve("work")).doesNotExist();
    }

    @Test
    void fullTrainingCountsABackwardOfTwiceTheForwardAndLoraHalfOfThat() throws Exception {
        ModelConfig c = Checkpoint.readConfig(BASE);
        double forward = FineTuneBenchmark.forwardFlops(c, true);
        long embedding = (long) c.vocabSize() * c.hiddenSize();
        // tied: the embedding's weights multiply once, in the unembedding
        assertThat(forward).isEqualTo(2.0 * c.parameterCount());
        assertThat(FineTuneBenchmark.forwardFlops(c, false)).isEqualTo(2.0 * (c.parameterCount() - embedding));
        assertThat(FineTuneBenchmark.trainFlops(c, true, false)).isEqualTo(3 * forward);
        assertThat(FineTuneBenchmark.trainFlops(c, true, true)).isEqualTo(2 * forward);
    }
}
