package io.rlhf4j.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The architecture of a decoder-only model, read from and written to HF's {@code config.json}.
 *
 * <p>One record covers every family; the fields a family does not use keep neutral values (GPT-2 has
 * no rotary base, Llama no learned positions), and what sets the rotary families apart is in
 * {@link ModelFamily}'s traits. Sizes follow HF's Llama names; GPT-2's own keys
 * ({@code n_embd}, {@code n_layer}, ...) are mapped on read and written back on save so that HF
 * transformers loads what this project writes.
 */
public record ModelConfig(
        ModelFamily family,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int maxPositions,
        double normEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        double residDropout,
        int bosTokenId,
        int eosTokenId,
        RopeScaling ropeScaling) {

    /** Heads of {@code hidden_size / num_attention_heads}, without rope scaling. */
    public ModelConfig(
            ModelFamily family,
            int vocabSize,
            int hiddenSize,
            int intermediateSize,
            int numLayers,
            int numHeads,
            int numKvHeads,
            int maxPositions,
            double normEps,
            double ropeTheta,
            boolean tieWordEmbeddings,
            double residDropout,
            int bosTokenId,
            int eosTokenId) {
        this(
                family,
                vocabSize,
                hiddenSize,
                intermediateSize,
                numLayers,
                numHeads,
                numKvHeads,
                hiddenSize / numHeads,
                maxPositions,
                normEps,
                ropeTheta,
                tieWordEmbeddings,
                residDropout,
                bosTokenId,
                eosTokenId,
                RopeScaling.NONE);
    }

    public static final String FILE_NAME = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public ModelConfig {
        ropeScaling = ropeScaling == null ? RopeScaling.NONE : ropeScaling;
        require(vocabSize > 0, "vocab_size", vocabSize);
        require(hiddenSize > 0, "hidden_size", hiddenSize);
        require(intermediateSize > 0, "intermediate_size", intermediateSize);
        require(numLayers > 0, "num_hidden_layers", numLayers);
        require(numHeads > 0, "num_attention_heads", numHeads);
        require(numKvHeads > 0 && numHeads % numKvHeads == 0, "num_key_value_heads", numKvHeads);
        require(headDim > 0, "head_dim", headDim);
        require(maxPositions > 0, "max_position_embeddings", maxPositions);
        require(normEps > 0, "rms_norm_eps", normEps);
        require(residDropout >= 0 && residDropout < 1, "resid_pdrop", residDropout);
        if (family.rotary()) {
            require(
                    headDim % 2 == 0,
                    "head_dim (the rotary embedding pairs a head's dimensions) must be even",
                    headDim);
            require(ropeTheta > 0, "rope_theta", ropeTheta);
        } else {
            require(
                    hiddenSize % numHeads == 0 && headDim == hiddenSize / numHeads,
                    "head_dim (GPT-2's is n_embd / n_head)",
                    headDim);
            require(numKvHeads == numHeads, "num_key_value_heads (GPT-2 has no grouped-query attention)", numKvHeads);
        }
    }

    /** Width of all query heads together: {@code hidden_size} unless {@code head_dim} is given apart. */
    public int queryWidth() {
        return numHeads * headDim;
    }

    /** Width of all key (or value) heads together. */
    public int kvWidth() {
        return numKvHeads * headDim;
    }

    /** The rotary embedding's frequencies, one per pair of a head's dimensions, scaled as configured. */
    public float[] inverseFrequencies() {
        return ropeScaling.inverseFrequencies(ropeTheta, headDim());
    }

    /** A small Llama-family configuration with the usual defaults. */
    public static ModelConfig llama(int vocab, int dim, int hidden, int layers, int heads, int kvHeads, int seqLen) {
        return new ModelConfig(
                ModelFamily.LLAMA, vocab, dim, hidden, layers, heads, kvHeads, seqLen, 1e-5, 10000.0, true, 0.0, 1, 2);
    }

    /** A GPT-2-family configuration (MLP width 4 * dim, tied embeddings). */
    public static ModelConfig gpt2(int vocab, int dim, int layers, int heads, int seqLen) {
        return new ModelConfig(
                ModelFamily.GPT2,
                vocab,
                dim,
                4 * dim,
                layers,
                heads,
                heads,
                seqLen,
                1e-5,
                0.0,
                true,
                0.0,
                vocab - 1,
                vocab - 1);
    }

    public ModelConfig withResidDropout(double p) {
        return new ModelConfig(
                family,
                vocabSize,
                hiddenSize,
                intermediateSize,
                numLayers,
                numHeads,
                numKvHeads,
                headDim,
                maxPositions,
                normEps,
                ropeTheta,
                tieWordEmbeddings,
                p,
                bosTokenId,
                eosTokenId,
                ropeScaling);
    }

    public ModelConfig withSpecialTokens(int bos, int eos) {
        return new ModelConfig(
                family,
                vocabSize,
                hiddenSize,
                intermediateSize,
                numLayers,
                numHeads,
                numKvHeads,
                headDim,
                maxPositions,
                normEps,
                ropeTheta,
                tieWordEmbeddings,
                residDropout,
                bos,
                eos,
                ropeScaling);
    }

    public ModelConfig withRopeScaling(RopeScaling scaling) {
        return new ModelConfig(
                family,
                vocabSize,
                hiddenSize,
                intermediateSize,
                numLayers,
                numHeads,
                numKvHeads,
                headDim,
                maxPositions,
                normEps,
                ropeTheta,
                tieWordEmbeddings,
                residDropout,
                bosTokenId,
                eosTokenId,
                scaling);
    }

    /** Number of parameters, counting tied embeddings once. */
    public long parameterCount() {
        long d = hiddenSize;
        long q = queryWidth();
        long kv = kvWidth();
        long perLayer;
        long extra;
        if (family.rotary()) {
            perLayer = 2 * d + 2 * d * q + 2 * d * kv + 3 * d * intermediateSize;
            perLayer += family.qkvBias() ? q + 2 * kv : 0;
            perLayer += family.qkNorm() ? 2L * headDim : 0;
            extra = d;
        } else {
            perLayer = 4 * d + d * 3 * d + 3 * d + d * d + d + 2 * d * intermediateSize + intermediateSize + d;
            extra = 2 * d + (long) maxPositions * d;
        }
        long embeddings = (long) vocabSize * d * (tieWordEmbeddings ? 1 : 2);
        return perLayer * numLayers + extra + embeddings;
    }

    // ---------------------------------------------------------------- config.json

    public static ModelConfig read(Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
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
                RopeScaling.fromJson(n.get("rope_scaling")));
    }

    /**
     * The attention window a config asks for, or 0 for none: Mistral's and Phi-3's {@code sliding_window}
     * when set; Qwen's only with {@code use_sliding_window}, which their released configs leave off.
     */
    public static int slidingWindow(ModelFamily family, JsonNode n) {
        boolean qwen = family == ModelFamily.QWEN2 || family == ModelFamily.QWEN3;
        if (qwen && !n.path("use_sliding_window").asBoolean(false)) {
            return 0;
        }
        return n.path("sliding_window").isInt() ? n.get("sliding_window").asInt() : 0;
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

    public void write(Path dir) throws IOException {
        JSON.writeValue(dir.resolve(FILE_NAME).toFile(), toJson());
    }

    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        if (family.rotary()) {
            n.putArray("architectures").add(family.architecture());
            n.put("model_type", family.modelType());
            n.put("vocab_size", vocabSize);
            n.put("hidden_size", hiddenSize);
            n.put("intermediate_size", intermediateSize);
            n.put("num_hidden_layers", numLayers);
            n.put("num_attention_heads", numHeads);
            n.put("num_key_value_heads", numKvHeads);
            n.put("head_dim", headDim);
            n.put("max_position_embeddings", maxPositions);
            n.put("rms_norm_eps", normEps);
            n.put("rope_theta", ropeTheta);
            ropeScaling.writeInto(n);
            n.put("hidden_act", "silu");
            if (family == ModelFamily.QWEN2 || family == ModelFamily.QWEN3) {
                n.put("use_sliding_window", false);
            } else if (family == ModelFamily.MISTRAL) {
                n.putNull("sliding_window");
            }
            if (family != ModelFamily.QWEN2) {
                n.put("attention_bias", false);
                n.put("mlp_bias", false);
            }
        } else {
            n.putArray("architectures").add("GPT2LMHeadModel");
            n.put("model_type", "gpt2");
            n.put("vocab_size", vocabSize);
            n.put("n_embd", hiddenSize);
            n.put("n_inner", intermediateSize);
            n.put("n_layer", numLayers);
            n.put("n_head", numHeads);
            n.put("n_positions", maxPositions);
            n.put("n_ctx", maxPositions);
            n.put("layer_norm_epsilon", normEps);
            n.put("activation_function", "gelu_new");
        }
        n.put("tie_word_embeddings", tieWordEmbeddings);
        n.put("resid_pdrop", residDropout);
        n.put("bos_token_id", bosTokenId);
        n.put("eos_token_id", eosTokenId);
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

    private static void require(boolean ok, String field, Object value) {
        if (!ok) {
            throw new IllegalArgumentException("invalid " + field + ": " + value);
        }
    }
}
