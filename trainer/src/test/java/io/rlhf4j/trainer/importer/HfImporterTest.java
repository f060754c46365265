package io.rlhf4j.trainer.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * HF checkpoints made by {@code src/test/resources/hf-reference/make_fixtures.py}, with logits from an
 * independent numpy implementation of HF's formulas for each family: GPT-2, Llama, {@code llama3} (a
 * Llama with Llama 3.1's {@code rope_scaling}, HF's {@code _compute_llama3_parameters}), Mistral (with a
 * sliding window), Qwen2 (q/k/v biases, tied embeddings), Qwen3 (per-head q/k norms, a separate
 * {@code head_dim}) and Phi-3 (fused projections).
 */
class HfImporterTest {

    @TempDir
    Path tmp;

    private Path fixture(String family) throws IOException, URISyntaxException {
        Path src = Path.of(getClass()
                        .getResource("/hf-reference/" + family + "/config.json")
                        .toURI())
                .getParent();
        Path copy = tmp.resolve("hf-" + family);
        Files.createDirectories(copy);
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(src.resolve(f), copy.resolve(f));
        }
        // Any tokenizer within the vocabulary will do: the comparison is on token ids.
        new ByteLevelBpeTrainer(300)
                .train(List.of("the cat sat on the mat"), tmp.resolve("tok-" + family))
                .save(copy);
        return copy;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama", "llama3", "mistral", "qwen2", "qwen3", "phi3"})
    void importedCheckpointMatchesTheNumpyReference(String family) throws Exception {
        Path out = tmp.resolve("imported-" + family);
        HfImporter.importDir(fixture(family), out);
        JsonNode expected = new ObjectMapper()
                .readTree(getClass().getResource("/hf-reference/" + family + "/expected_logits.json"));
        long[] tokens = new long[expected.get("tokens").size()];
        long[] pos = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = expected.get("tokens").get(i).asLong();
            pos[i] = i;
        }
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.load(out, m)) {
            float[] logits = model.forward(
                            m.create(tokens, new Shape(1, tokens.length)),
                            m.create(pos, new Shape(1, tokens.length)),
                            null,
                            null,
                            false)
                    .toFloatArray();
            int vocab = model.config().vocabSize();
            for (int t = 0; t < tokens.length; t++) {
                for (int v = 0; v < vocab; v++) {
                    assertThat(logits[t * vocab + v])
                            .as("position %d, logit %d", t, v)
                            .isCloseTo(
                                    (float) expected.get("logits").get(t).get(v).asDouble(), within(1e-4f));
                }
            }
        }
        // What the importer writes is HF's layout again: GPT-2 names gain their transformer. prefix.
        assertThat(Checkpoint.readWeights(out).keySet())
                .allMatch(n ->
                        n.startsWith(family.equals("gpt2") ? "transformer." : "model.") || n.equals("lm_head.weight"));
    }

    @Test
    void familiesKeepTheirModelTypeAndPhi3BecomesALlama() throws Exception {
        List<String> notes = new java.util.ArrayList<>();
        Path mistral = tmp.resolve("mistral-out");
        assertThat(HfImporter.importDir(fixture("mistral"), mistral, notes::add).maxPositions())
                .isEqualTo(32);
        assertThat(notes).singleElement().asString().contains("sliding_window 32", "capped at 32");
        assertThat(Files.readString(mistral.resolve("config.json"))).contains("\"model_type\" : \"mistral\"");

        notes.clear();
        // Qwen's sliding_window is off unless use_sliding_window says otherwise.
        assertThat(HfImporter.importDir(fixture("qwen2"), tmp.resolve("qwen2-out"), notes::add)
                        .maxPositions())
                .isEqualTo(64);
        assertThat(notes).isEmpty();

        Path phi = tmp.resolve("phi3-out");
        HfImporter.importDir(fixture("phi3"), phi);
        assertThat(Checkpoint.readConfig(phi).family()).isEqualTo(io.rlhf4j.core.config.ModelFamily.LLAMA);
        assertThat(Checkpoint.readWeights(phi).keySet())
                .contains("model.layers.1.self_attn.k_proj.weight", "model.layers.1.mlp.up_proj.weight")
                .noneMatch(n -> n.contains("qkv_proj") || n.contains("gate_up_proj"));
        // What this writes reads back as the same model: Qwen3's head_dim survives the round trip.
        Path qwen3Source = fixture("qwen3");
        Path qwen3 = tmp.resolve("qwen3-out");
        HfImporter.importDir(qwen3Source, qwen3);
        assertThat(Checkpoint.readConfig(qwen3)).isEqualTo(Checkpoint.readConfig(qwen3Source));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "\"attention_bias\": true",
                "\"mlp_bias\": true",
                "\"hidden_act\": \"gelu\"",
                "\"partial_rotary_factor\": 0.75",
                "\"rope_scaling\": {\"rope_type\": \"longrope\", \"factor\": 4.0}"
            })
    void whatNeitherEngineComputesIsRefusedByName(String setting) throws Exception {
        Path src = fixture("mistral");
        ObjectMapper json = new ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode config = (com.fasterxml.jackson.databind.node.ObjectNode)
                json.readTree(src.resolve("config.json").toFile());
        JsonNode change = json.readTree("{" + setting + "}");
        config.setAll((com.fasterxml.jackson.databind.node.ObjectNode) change);
        json.writeValue(src.resolve("config.json").toFile(), config);
        String key = change.fieldNames().next();
        assertThatThrownBy(() -> HfImporter.importDir(src, tmp.resolve("refused")))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining(key.equals("rope_scaling") ? "longrope" : key)
                .hasMessageContaining("supported");
        assertThat(tmp.resolve("refused")).doesNotExist();
    }

    @Test
    void aCheckpointWithAMissingTensorIsRefusedAndNothingIsWritten() throws Exception {
        Path src = fixture("llama");
        String json = Files.readString(src.resolve("config.json"));
        Files.writeString(
                src.resolve("config.json"), json.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        Path out = tmp.resolve("out");
        assertThatThrownBy(() -> HfImporter.importDir(src, out))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("model.layers.2.input_layernorm.weight")
                .hasMessageContaining("missing");
        assertThat(out).doesNotExist();
    }

    @org.junit.jupiter.api.Test
    void aModelTooLargeForThisMachineIsRefusedBeforeItsWeightsAreRead() throws Exception {
        // Llama-2-7B's shape: 6.7 billion parameters, 25 GiB as fp32. Only config.json exists: a refusal
        // that names the bytes comes before any weight file is looked for.
        Path big = Files.createDirectories(tmp.resolve("llama-7b"));
        Files.writeString(
                big.resolve("config.json"),
                "{\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":4096,"
                        + "\"intermediate_size\":11008,\"num_hidden_layers\":32,\"num_attention_heads\":32}");
        assertThatThrownBy(() -> HfImporter.importDir(big, tmp.resolve("out")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(big.toString())
                .hasMessageContaining("6,738,415,616 parameters need 25.1 GiB as fp32 weights");
        assertThat(tmp.resolve("out")).doesNotExist();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            assertThatThrownBy(() -> Decoder.load(big, m))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("25.1 GiB");
        }
    }
}
