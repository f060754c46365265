package io.rlhf4j.exporter.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.SafeTensors;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.trainer.importer.HfImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HF checkpoints out: bf16 or fp32, sharded with HF's index above the shard size, and read back. */
class HfCheckpointExporterTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    @TempDir
    Path tmp;

    Path model;
    Map<String, Tensor> original;

    @BeforeEach
    void randomModel() throws IOException {
        model = tmp.resolve("model");
        ModelConfig config = ModelConfig.llama(300, 32, 64, 2, 4, 2, 32).withSpecialTokens(0, 1);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 7)) {
            Checkpoint.write(
                    model,
                    config,
                    d.toTensors(),
                    new ByteLevelBpeTrainer(300).train(List.of("the cat sat"), tmp.resolve("tok")),
                    null);
        }
        original = Checkpoint.readWeights(model);
    }

    @Test
    void shardedFp32RoundTripsBitForBitAndLoadsWithoutImport() throws Exception {
        Path out = tmp.resolve("hf");
        // 20 kB shards: the 38 kB embedding alone in one, the rest packed up to the limit.
        new HfCheckpointExporter(QUIET).export(model, out, new Checkpoint.Storage(SafeTensors.Dtype.F32, 20_000));
        List<String> files = Checkpoint.weightFiles(out);
        assertThat(files.get(0)).isEqualTo("model.safetensors.index.json");
        assertThat(files.subList(1, files.size()))
                .hasSizeGreaterThan(2)
                .allMatch(f -> f.matches("model-\\d{5}-of-\\d{5}\\.safetensors"));
        for (String shard : files.subList(2, files.size() - 1)) {
            assertThat(Files.size(out.resolve(shard))).isLessThan(20_000 + 4_096); // data within, plus header
        }
        assertThat(out.resolve("model.safetensors")).doesNotExist();
        Map<String, Tensor> back = Checkpoint.readWeights(out);
        assertThat(back.keySet()).containsExactlyInAnyOrderElementsOf(original.keySet());
        original.forEach((name, t) -> assertThat(back.get(name).data()).as(name).containsExactly(t.data()));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(out, m)) {
            assertThat(d.parameters()).hasSize(original.size());
        }
        // Import reads HF's index too, and what it writes fits one file again.
        HfImporter.importDir(out, tmp.resolve("again"));
        assertThat(Checkpoint.weightFiles(tmp.resolve("again"))).containsExactly("model.safetensors");
        assertThat(Checkpoint.weightsSha256(tmp.resolve("again"))).isEqualTo(Checkpoint.weightsSha256(model));
    }

    @Test
    void bf16HalvesTheWeightsRoundingEachToTheNearestBf16() throws Exception {
        Path out = tmp.resolve("bf16");
        new HfCheckpointExporter(QUIET).export(model, out, new Checkpoint.Storage(SafeTensors.Dtype.BF16, 1L << 30));
        assertThat(Files.size(out.resolve("model.safetensors")))
                .isLessThan(Files.size(model.resolve("model.safetensors")) / 2 + 4_096);
        assertThat(new ObjectMapper()
                        .readTree(out.resolve("config.json").toFile())
                        .get("torch_dtype")
                        .asText())
                .isEqualTo("bfloat16");
        Map<String, Tensor> back = Checkpoint.readWeights(out);
        original.forEach((name, t) -> {
            float[] b = back.get(name).data();
            for (int i = 0; i < b.length; i++) {
                float x = t.data()[i];
                // bf16 keeps 8 significant bits: half a unit in the last place is at most 2^-8 of the value.
                assertThat(Math.abs(b[i] - x)).as("%s[%d]", name, i).isLessThanOrEqualTo(Math.abs(x) * 0x1p-8f);
            }
        });
    }

    @Test
    void aMissingShardOrATensorNoShardHoldsIsRefusedNamingTheFile() throws Exception {
        Path out = tmp.resolve("hf");
        new HfCheckpointExporter(QUIET).export(model, out, new Checkpoint.Storage(SafeTensors.Dtype.F32, 20_000));
        Path index = out.resolve("model.safetensors.index.json");
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(index.toFile());
        ((ObjectNode) root.get("weight_map"))
                .put("model.layers.0.mlp.up_proj.weight", "model-00099-of-00099.safetensors");
        String firstShard =
                root.get("weight_map").get("model.embed_tokens.weight").asText();
        json.writeValue(index.toFile(), root);
        assertThatThrownBy(() -> HfImporter.importDir(out, tmp.resolve("x")))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("shard 'model-00099-of-00099.safetensors' is missing");

        root = (ObjectNode) json.readTree(index.toFile());
        ((ObjectNode) root.get("weight_map")).put("model.layers.0.mlp.up_proj.weight", firstShard);
        json.writeValue(index.toFile(), root);
        assertThatThrownBy(() -> HfImporter.importDir(out, tmp.resolve("x")))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("tensor 'model.layers.0.mlp.up_proj.weight' is not in its shard '" + firstShard);
        assertThat(tmp.resolve("x")).doesNotExist();
    }

    @Test
    void shardSizesAreReadAsHfSpellsThem() {
        assertThat(HfCheckpointExporter.parseSize("2GB")).isEqualTo(2_000_000_000L);
        assertThat(HfCheckpointExporter.parseSize("2GiB")).isEqualTo(2L << 30);
        assertThat(HfCheckpointExporter.parseSize("500MB")).isEqualTo(500_000_000L);
        assertThatThrownBy(() -> HfCheckpointExporter.parseSize("two gigs")).hasMessageContaining("'two gigs'");
    }
}
