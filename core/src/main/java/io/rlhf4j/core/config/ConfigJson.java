package io.rlhf4j.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * HF's {@code config.json} for a {@link ModelConfig}: each family's own keys on read and write (GPT-2's
 * {@code n_embd}, {@code n_layer}, ...), defaults as HF's config classes have them, and what neither
 * engine computes refused by name.
 */
final class ConfigJson {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ConfigJson() {}

    static ModelConfig read(Path dir) throws IOException {
        Path file = dir.resolve(ModelConfig.FILE_NAME);
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new CheckpointFormatException(file + ": missing");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new CheckpointFormatException(file + ": invalid JSON (" + e.getOriginalMessage() + ")");
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointFormatException(file + ": not a JSON object");
        }
        return fromJson(root, file.toString());
    }

    static ModelConfig fromJson(JsonNode n, String where) {
        String type = text(n, "model_type", where);
        // Phi-3 is Llama's computation with fused projections, which the importer splits.
        ModelFamily family = type.equals("phi3")
                ? ModelFamily.LLAMA
                : ModelFamily.fromModelType(type)
                        .orElseThrow(() -> new CheckpointFormatException(where + ": unsupported model_type '" + type
                                + "' (supported: llama, mistral, qwen2, qwen3, phi3, gpt2)"));
        try {
            return family.rotary() ? rotaryFromJson(family, n, where) : gpt2FromJson(n, where);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(where + ": " + e.getMessage());
        }
    }

    private static ModelConfig rotaryFromJson(ModelFamily family, JsonNode n, String where) {
        int dim = integer(n, "hidden_size", where);
        int heads = integer(n, "num_attention_heads", where);
        refuseUnless(n.path("hidden_act").asText("silu").equals("silu"), "hidden_act other than silu");
        // Llama's attention_bias adds a bias to o_proj as well; Qwen2's fixed q/k/v biases are its own family.
        refuseUnless(!n.path("attention_bias").asBoolean(false), "attention_bias (biases on q, k, v and o)");
        refuseUnless(!n.path("mlp_bias").asBoolean(false), "mlp_bias");
        refuseUnless(n.path("partial_rotary_factor").asDouble(1.0) == 1.0, "partial_rotary_factor below 1");
        int maxPositions = n.path("max_position_embeddings").asInt(2048);
        int window = slidingWindow(family, n);
        return new ModelConfig(
                family,
                integer(n, "vocab_size", where),
                dim,
                integer(n, "intermediate_size", where),
                integer(n, "num_hidden_layers", where),
                heads,
                n.path("num_key_value_heads").asInt(heads),
                n.hasNonNull("head_dim") ? n.get("head_dim").asInt() : dim / heads,
                // Within a context no longer than the window, sliding-window attention is full attention.
                window > 0 ? Math.min(maxPositions, window) : maxPositions,
                n.path("rms_norm_eps").asDouble(1e-6),
                n.path("rope_theta").asDouble(10000.0),
                n.path("tie_word_embeddings").asBoolean(false),
                n.path("resid_pdrop").asDouble(0.0),
                firstId(n.path("bos_token_id"), 1),
                firstId(n.path("eos_token_id"), 2),
                RopeScaling.fromJson(n.get("rope_scaling")),
                laterIds(n.path("eos_token_id")));
    }

    /**
     * The attention window a config asks for, or 0 for none: Mistral's and Phi-3's {@code sliding_window}
     * when set; Qwen's only with {@code use_sliding_window}, which their released configs leave off.
     */
    static int slidingWindow(ModelFamily family, JsonNode n) {
        boolean qwen = family == ModelFamily.QWEN2 || family == ModelFamily.QWEN3;
        if (qwen && !n.path("use_sliding_window").asBoolean(false)) {
            return 0;
        }
        return n.path("sliding_window").isInt() ? n.get("sliding_window").asInt() : 0;
    }

    /** The ids after the first of a list (Llama 3's several end-of-sequence ids). */
    private static List<Integer> laterIds(JsonNode v) {
        List<Integer> ids = new java.util.ArrayList<>();
        for (int i = 1; v.isArray() && i < v.size(); i++) {
            ids.add(v.get(i).asInt());
        }
        return ids;
    }

    /** Llama 3 lists several end-of-sequence ids; the first is the base model's. */
    private static int firstId(JsonNode v, int absent) {
        JsonNode first = v.isArray() ? v.path(0) : v;
        return first.canConvertToInt() ? first.asInt() : absent;
    }

    private static void refuseUnless(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what + " is not supported");
        }
    }

    private static ModelConfig gpt2FromJson(JsonNode n, String where) {
        int dim = integer(n, "n_embd", where);
        int heads = integer(n, "n_head", where);
        JsonNode inner = n.get("n_inner");
        int vocab = integer(n, "vocab_size", where);
        return new ModelConfig(
                ModelFamily.GPT2,
                vocab,
                dim,
                inner == null || inner.isNull() ? 4 * dim : inner.asInt(),
                integer(n, "n_layer", where),
                heads,
                heads,
                n.path("n_positions").asInt(1024),
                n.path("layer_norm_epsilon").asDouble(1e-5),
                0.0,
                n.path("tie_word_embeddings").asBoolean(true),
                n.path("resid_pdrop").asDouble(0.0),
                n.path("bos_token_id").asInt(vocab - 1),
                n.path("eos_token_id").asInt(vocab - 1));
    }

    static void write(ModelConfig c, Path dir) throws IOException {
        JSON.writeValue(dir.resolve(ModelConfig.FILE_NAME).toFile(), toJson(c));
    }

    static ObjectNode toJson(ModelConfig c) {
        ObjectNode n = JSON.createObjectNode();
        if (c.family().rotary()) {
            n.putArray("architectures").add(c.family().architecture());
            n.put("model_type", c.family().modelType());
            n.put("vocab_size", c.vocabSize());
            n.put("hidden_size", c.hiddenSize());
            n.put("intermediate_size", c.intermediateSize());
            n.put("num_hidden_layers", c.numLayers());
            n.put("num_attention_heads", c.numHeads());
            n.put("num_key_value_heads", c.numKvHeads());
            n.put("head_dim", c.headDim());
            n.put("max_position_embeddings", c.maxPositions());
            n.put("rms_norm_eps", c.normEps());
            n.put("rope_theta", c.ropeTheta());
            c.ropeScaling().writeInto(n);
            n.put("hidden_act", "silu");
            if (c.family() == ModelFamily.QWEN2 || c.family() == ModelFamily.QWEN3) {
                n.put("use_sliding_window", false);
            } else if (c.family() == ModelFamily.MISTRAL) {
                n.putNull("sliding_window");
            }
            if (c.family() != ModelFamily.QWEN2) {
                n.put("attention_bias", false);
                n.put("mlp_bias", false);
            }
        } else {
            n.putArray("architectures").add("GPT2LMHeadModel");
            n.put("model_type", "gpt2");
            n.put("vocab_size", c.vocabSize());
            n.put("n_embd", c.hiddenSize());
            n.put("n_inner", c.intermediateSize());
            n.put("n_layer", c.numLayers());
            n.put("n_head", c.numHeads());
            n.put("n_positions", c.maxPositions());
            n.put("n_ctx", c.maxPositions());
            n.put("layer_norm_epsilon", c.normEps());
            n.put("activation_function", "gelu_new");
        }
        n.put("tie_word_embeddings", c.tieWordEmbeddings());
        n.put("resid_pdrop", c.residDropout());
        n.put("bos_token_id", c.bosTokenId());
        if (c.moreEosTokenIds().isEmpty()) {
            n.put("eos_token_id", c.eosTokenId());
        } else {
            var ids = n.putArray("eos_token_id").add(c.eosTokenId());
            c.moreEosTokenIds().forEach(ids::add);
        }
        n.put("torch_dtype", "float32");
        return n;
    }

    private static String text(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new CheckpointFormatException(where + ": field '" + field + "' is missing or not a string");
        }
        return v.asText();
    }

    private static int integer(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt()) {
            throw new CheckpointFormatException(where + ": field '" + field + "' is missing or not an integer");
        }
        return v.asInt();
    }
}
