package io.rlhf4j.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.LoraAdapter;
import io.rlhf4j.trainer.model.LoraConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The training memory estimate counts what the stages really hold and refuses what cannot fit. */
class MemoryEstimateTest {

    static final Path BASE = Path.of("..", "demo", "base-model");

    @Test
    void anAdaptersValuesAreThoseOfTheAdapterItself() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        LoraConfig lora = new LoraConfig(4, 8, 0, List.of("q", "k", "down"));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder base = Decoder.load(BASE, m);
                LoraAdapter adapter = LoraAdapter.initialise(lora, base, 1, m)) {
            long actual = adapter.parameters().values().stream()
                    .mapToLong(a -> a.getShape().size())
                    .sum();
            assertThat(MemoryEstimate.adapterValues(config, lora)).isEqualTo(actual);
        }
    }

    @Test
    void fullFineTuningTrainsEveryParameterAndLoraOnlyItsAdapters() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        LoraConfig lora = LoraConfig.of(8, 16);
        MemoryEstimate full =
                MemoryEstimate.of("PPO", config).frozen(2).trained(2).build();
        MemoryEstimate adapters =
                MemoryEstimate.of("PPO", config).frozen(1).adapters(lora, 2, 1).build();
        long params = config.parameterCount();
        assertThat(full.weights()).isEqualTo(4 * params * 4);
        assertThat(full.trainedValues()).isEqualTo(2 * params);
        // a gradient and two AdamW moments per trained value
        assertThat(full.optimizer()).isEqualTo(2 * params * 4 * 3);
        long trained = 2 * MemoryEstimate.adapterValues(config, lora) + config.hiddenSize() + 1;
        assertThat(adapters.trainedValues()).isEqualTo(trained);
        assertThat(adapters.weights()).isEqualTo((params + trained) * 4);
        assertThat(adapters.total()).isLessThan(full.total() / 3);
    }

    @Test
    void activationsGrowWithTheBatchAndTheLogitsOfThePolicy() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        long one =
                MemoryEstimate.of("x", config).activations(1, 32, false).build().activations();
        assertThat(MemoryEstimate.of("x", config)
                        .activations(4, 32, false)
                        .build()
                        .activations())
                .isEqualTo(4 * one);
        assertThat(MemoryEstimate.of("x", config)
                        .activations(1, 32, true)
                        .build()
                        .activations())
                .isEqualTo(one + 32L * 3 * config.vocabSize() * 4);
    }

    @Test
    void aCheckpointSaveCountsTheSavedModelsAndMomentsInTheHeap() throws Exception {
        ModelConfig config = Checkpoint.readConfig(BASE);
        long model = config.parameterCount() * 4;
        MemoryEstimate e = MemoryEstimate.of("SFT", config).trained(1).saves(2).build();
        // the checkpoint read, two saved copies (model and best) and the two moments copied out
        assertThat(e.heap()).isEqualTo(model * (1 + 2) + 2 * model);
        assertThat(e.total()).isEqualTo(e.engine() + Math.min(e.heap(), e.maxHeap()));
        MemoryEstimate tooBigForTheHeap = new MemoryEstimate("PPO", 1, 1, 1, 10, 5);
        assertThatThrownBy(() -> tooBigForTheHeap.require(Long.MAX_VALUE))
                .isInstanceOf(MemoryEstimate.TooLarge.class)
                .hasMessageContaining("-Xmx");
    }

    @Test
    void anEstimateBeyondWhatIsAvailableIsRefusedWithItsFigures() throws Exception {
        MemoryEstimate e = MemoryEstimate.of("SFT", Checkpoint.readConfig(BASE))
                .trained(1)
                .activations(8, 64, true)
                .build();
        assertThat(e.require(e.total() + 1)).isSameAs(e);
        assertThat(e.require(0)).as("unknown: not refused").isSameAs(e);
        assertThatThrownBy(() -> e.require(e.total() - 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("SFT memory estimate: weights ")
                .hasMessageContaining("--lora-rank");
    }
}
