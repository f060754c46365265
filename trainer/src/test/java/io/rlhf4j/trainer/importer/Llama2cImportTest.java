package io.rlhf4j.trainer.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cImportTest {

    @TempDir
    Path tmp;

    /** A random llama2.c model: grouped-query attention and an unshared classifier (negative vocab). */
    static byte[] randomLlama2c(
            int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, boolean shared, long seed) {
        int hs = dim / heads;
        int kvDim = kvHeads * hs;
        int floats = vocab * dim
                + layers * (2 * dim + 2 * dim * dim + 2 * dim * kvDim + 3 * dim * hidden)
                + dim
                + seqLen * hs
                + (shared ? 0 : vocab * dim);
        ByteBuffer b = ByteBuffer.allocate(28 + 4 * floats).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(dim)
                .putInt(hidden)
                .putInt(layers)
                .putInt(heads)
                .putInt(kvHeads)
                .putInt(shared ? vocab : -vocab)
                .putInt(seqLen);
        Random r = new Random(seed);
        for (int i = 0; i < floats; i++) {
            b.putFloat((float) (r.nextGaussian() * 0.3));
        }
        return b.array();
    }

    @Test
    void importedModelComputesTheSameLogitsAsLlama2cReferenceImplementation() throws IOException {
        byte[] bin = randomLlama2c(32, 72, 2, 4, 2, 40, 16, false, 7);
        Path file = tmp.resolve("tiny.bin");
        Files.write(file, bin);
        Llama2cCheckpoint.Loaded loaded = Llama2cCheckpoint.read(file);
        Llama2cReference reference = new Llama2cReference(bin);
        int[] tokens = {1, 5, 17, 3, 39, 22, 8};
        Map<String, Tensor> byName = new LinkedHashMap<>();
        loaded.tensors().forEach(t -> byName.put(t.name(), t));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.fromTensors(loaded.config(), byName, m, "tiny")) {
            long[] ids = new long[tokens.length];
            long[] pos = new long[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                ids[i] = tokens[i];
                pos[i] = i;
            }
            NDArray logits = model.forward(
                    m.create(ids, new Shape(1, ids.length)),
                    m.create(pos, new Shape(1, ids.length)),
                    null,
                    null,
                    false);
            float[] ours = logits.toFloatArray();
            int vocab = loaded.config().vocabSize();
            for (int p = 0; p < tokens.length; p++) {
                float[] expected = reference.forward(tokens[p], p);
                for (int v = 0; v < vocab; v++) {
                    assertThat(ours[p * vocab + v])
                            .as("logit %d at position %d", v, p)
                            .isCloseTo(expected[v], org.assertj.core.api.Assertions.within(1e-4f));
                }
            }
        }
    }

    @Test
    void headerThatDoesNotMatchTheFileSizeIsRefusedNamingTheFile() throws IOException {
        byte[] bin = randomLlama2c(16, 40, 1, 2, 2, 20, 8, true, 1);
        Path file = tmp.resolve("cut.bin");
        Files.write(file, java.util.Arrays.copyOf(bin, bin.length - 4));
        assertThatThrownBy(() -> Llama2cCheckpoint.read(file))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("cut.bin")
                .hasMessageContaining("implies " + bin.length + " bytes");
        assertThatThrownBy(() -> Llama2cCheckpoint.read(tmp.resolve("absent.bin")))
                .hasMessageContaining("absent.bin: missing");
    }

    /** The known output of llama2.c's run.c for stories260K, greedy from BOS. */
    @Test
    void stories260KGreedyFromBosTellsTheKnownStory() throws IOException {
        Optional<Path> dir = SharedData.file("models/stories260K");
        assumeThat(dir)
                .as("../shared/data/models/stories260K (shared data absent: skipped)")
                .isPresent();
        Path out = tmp.resolve("stories");
        Llama2cImporter.importModel(
                dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"), out);
        Tokenizer tokenizer = Checkpoint.readTokenizer(out);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.load(out, m)) {
            String text = new Generator(model, tokenizer)
                    .generate("", SamplingParams.greedy(200))
                    .text();
            assertThat(text)
                    .startsWith("Once upon a time, there was a little girl named Lily. She loved to play "
                            + "outside in the park.");
        }
    }
}
