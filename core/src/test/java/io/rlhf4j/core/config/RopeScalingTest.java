package io.rlhf4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/**
 * Rope scaling as HF computes it. The llama3 figures are numpy's evaluation of HF's
 * {@code _compute_llama3_parameters} (as in {@code trainer/src/test/resources/hf-reference/make_fixtures.py})
 * for theta 10000, head_dim 8, factor 8, low 1, high 4, original context 64.
 */
class RopeScalingTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void llama3KeepsHighFrequenciesDividesLowOnesAndBlendsBetween() {
        float[] f = new RopeScaling("llama3", 8, 1, 4, 64).inverseFrequencies(10000, 8);
        // default: 1, 0.1, 0.01, 0.001; wavelengths 6.3 (< 16: kept), 62.8 (16..64: blended),
        // 628 and 6283 (> 64: divided by 8).
        assertThat(f[0]).isCloseTo(1.0f, within(1e-7f));
        assertThat(f[1]).isCloseTo(1.3042256e-02f, within(1e-8f));
        assertThat(f[2]).isCloseTo(1.25e-03f, within(1e-9f));
        assertThat(f[3]).isCloseTo(1.25e-04f, within(1e-10f));
        assertThat(new RopeScaling("linear", 4, 1, 1, 0).inverseFrequencies(10000, 8)[1])
                .isCloseTo(0.025f, within(1e-8f));
        assertThat(RopeScaling.NONE.inverseFrequencies(10000, 8)).containsExactly(1f, 0.1f, 0.01f, 0.001f);
    }

    @Test
    void configJsonCarriesItBothWaysAndUnsupportedTypesAreNamed() throws Exception {
        ObjectNode n = (ObjectNode) JSON.readTree("{\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":8,"
                + "\"intermediate_size\":16,\"num_hidden_layers\":1,\"num_attention_heads\":1,"
                + "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":32.0,\"low_freq_factor\":1.0,"
                + "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}");
        ModelConfig c = ModelConfig.fromJson(n, "config.json");
        assertThat(c.ropeScaling()).isEqualTo(new RopeScaling("llama3", 32, 1, 4, 8192));
        assertThat(ModelConfig.fromJson(c.toJson(), "again").ropeScaling()).isEqualTo(c.ropeScaling());
        assertThat(ModelConfig.llama(10, 8, 16, 1, 1, 1, 8).toJson().has("rope_scaling"))
                .isFalse();

        n.set("rope_scaling", JSON.readTree("{\"type\":\"dynamic\",\"factor\":2.0}"));
        assertThatThrownBy(() -> ModelConfig.fromJson(n, "config.json"))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("unsupported rope_scaling type 'dynamic'");
        n.set("rope_scaling", JSON.readTree("{\"rope_type\":\"llama3\",\"factor\":8.0}"));
        assertThatThrownBy(() -> ModelConfig.fromJson(n, "config.json"))
                .hasMessageContaining("original_max_position_embeddings");
        n.remove("rope_scaling");
        // head_dim apart from hidden_size / heads (Qwen3, Mistral-Nemo) is read, and kept on the way out.
        n.put("head_dim", 4);
        ModelConfig narrow = ModelConfig.fromJson(n, "config.json");
        assertThat(narrow.headDim()).isEqualTo(4);
        assertThat(narrow.queryWidth()).isEqualTo(4 * narrow.numHeads());
        assertThat(ModelConfig.fromJson(narrow.toJson(), "again")).isEqualTo(narrow);
        n.put("head_dim", 3);
        assertThatThrownBy(() -> ModelConfig.fromJson(n, "config.json"))
                .isInstanceOf(CheckpointFormatException.class)
                .hasMessageContaining("head_dim")
                .hasMessageContaining("must be even");
    }
}
