package io.rlhf4j.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DecoderTest {

    static NDManager manager;

    @TempDir
    Path tmp;

    @BeforeAll
    static void engine() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void release() {
        manager.close();
    }

    static Stream<ModelConfig> families() {
        return Stream.of(
                ModelConfig.llama(300, 32, 80, 2, 4, 2, 64),
                ModelConfig.gpt2(300, 32, 2, 4, 64),
                rotary(io.rlhf4j.core.config.ModelFamily.QWEN2, 8),
                rotary(io.rlhf4j.core.config.ModelFamily.QWEN3, 12));
    }

    private static ModelConfig rotary(io.rlhf4j.core.config.ModelFamily family, int headDim) {
        return ModelConfig.rotary(family, 300, 32, 80, 2, 4, 2, headDim, 64, true);
    }

    static Tokenizer tinyTokenizer(Path dir) throws IOException {
        return new ByteLevelBpeTrainer(300).train(List.of("the cat sat on the mat", "a dog ran in the park"), dir);
    }

    private static float[] fullLogits(Decoder model, long[] ids) {
        try (NDScope s = new NDScope()) {
            s.suppressNotUsedWarning();
            long[] pos = new long[ids.length];
            for (int i = 0; i < pos.length; i++) {
                pos[i] = i;
            }
            return model.forward(
                            manager.create(ids, new Shape(1, ids.length)),
                            manager.create(pos, new Shape(1, ids.length)),
                            null,
                            null,
                            false)
                    .toFloatArray();
        }
    }

    @ParameterizedTest
    @MethodSource("families")
    void savedAndReloadedCheckpointGivesIdenticalLogits(ModelConfig config) throws IOException {
        Path dir = tmp.resolve(config.family().modelType());
        long[] ids = {1, 7, 9, 33, 2, 60, 5};
        try (Decoder model = Decoder.initialise(config, manager, 42)) {
            Checkpoint.write(dir, config, model.toTensors(), tinyTokenizer(tmp.resolve("tok")), null);
            float[] before = fullLogits(model, ids);
            try (Decoder reloaded = Decoder.load(dir, manager)) {
                assertThat(Checkpoint.readConfig(dir)).isEqualTo(config);
                assertThat(fullLogits(reloaded, ids)).containsExactly(before);
            }
        }
        assertThat(dir.resolve("config.json")).exists();
        assertThat(dir.resolve("tokenizer.json")).exists();
        assertThat(dir.resolve("generation_config.json")).exists();
    }

    @ParameterizedTest
    @MethodSource("families")
    void decodingWithTheKvCacheMatchesTheFullSequenceForward(ModelConfig config) {
        long[] ids = {1, 7, 9, 33, 2, 60, 5, 11};
        try (Decoder model = Decoder.initialise(config, manager, 3);
                KvCache cache = model.newCache(manager)) {
            float[] full = fullLogits(model, ids);
            int vocab = config.vocabSize();
            // Prefill three tokens, then one at a time.
            int prefill = 3;
            for (int start = 0; start < ids.length; ) {
                int len = start == 0 ? prefill : 1;
                long[] chunk = java.util.Arrays.copyOfRange(ids, start, start + len);
                long[] pos = new long[len];
                for (int i = 0; i < len; i++) {
                    pos[i] = start + i;
                }
                try (NDScope s = new NDScope()) {
                    s.suppressNotUsedWarning();
                    float[] step = model.forward(
                                    manager.create(chunk, new Shape(1, len)),
                                    manager.create(pos, new Shape(1, len)),
                                    null,
                                    cache,
                                    false)
                            .toFloatArray();
                    for (int i = 0; i < step.length; i++) {
                        assertThat(step[i]).isCloseTo(full[start * vocab + i], within(1e-5f));
                    }
                }
                start += len;
            }
            assertThat(cache.length()).isEqualTo(ids.length);
        }
    }

    @Test
    void paddingOnTheLeftDoesNotChangeARowsLogits() {
        ModelConfig config = ModelConfig.llama(300, 32, 80, 2, 4, 2, 64);
        try (Decoder model = Decoder.initialise(config, manager, 5);
                NDScope s = new NDScope()) {
            s.suppressNotUsedWarning();
            long[] ids = {4, 8, 15, 16};
            float[] alone = fullLogits(model, ids);
            long[] padded = {0, 0, 4, 8, 15, 16};
            long[] pos = {0, 0, 0, 1, 2, 3};
            long[] mask = {0, 0, 1, 1, 1, 1};
            float[] out = model.forward(
                            manager.create(padded, new Shape(1, 6)),
                            manager.create(pos, new Shape(1, 6)),
                            manager.create(mask, new Shape(1, 6)),
                            null,
                            false)
                    .toFloatArray();
            for (int i = 0; i < alone.length; i++) {
                assertThat(out[2 * 300 + i]).isCloseTo(alone[i], within(1e-5f));
            }
        }
    }

    @Test
    void checkpointErrorsNameTheFileAndTheField() throws IOException {
        ModelConfig config = ModelConfig.llama(300, 32, 80, 2, 4, 2, 64);
        Path dir = tmp.resolve("ckpt");
        try (Decoder model = Decoder.initialise(config, manager, 1)) {
            Checkpoint.write(dir, config, model.toTensors(), tinyTokenizer(tmp.resolve("tok")), null);
        }
        assertThatThrownBy(() -> Decoder.load(tmp.resolve("nowhere"), manager))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("nowhere");

        Path weights = dir.resolve(Checkpoint.WEIGHTS);
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 16));
        assertThatThrownBy(() -> Decoder.load(dir, manager))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("fall outside");

        Files.write(weights, bytes);
        String json = Files.readString(dir.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), json.replace("\"llama\"", "\"mamba\""));
        assertThatThrownBy(() -> Decoder.load(dir, manager))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("unsupported model_type 'mamba'");

        Files.writeString(
                dir.resolve("config.json"),
                json.replace("\"hidden_size\" : 32", "\"hidden_size\" : 48")
                        .replace("\"head_dim\" : 8", "\"head_dim\" : 12"));
        assertThatThrownBy(() -> Decoder.load(dir, manager))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("model.embed_tokens.weight")
                .hasMessageContaining("has shape [300, 32]");
    }
}
