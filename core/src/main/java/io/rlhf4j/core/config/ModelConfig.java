package io.rlhf4j.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

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
        RopeScaling ropeScaling,
        List<Integer> moreEosTokenIds) {

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
                RopeScaling.NONE,
                List.of());
    }

    public static final String FILE_NAME = "config.json";

    public ModelConfig {
        ropeScaling = ropeScaling == null ? RopeScaling.NONE : ropeScaling;
        moreEosTokenIds = moreEosTokenIds == null ? List.of() : List.copyOf(moreEosTokenIds);
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

    /**
     * Whether {@code token} ends a sequence: the EOS id, or one of the others a config lists (Llama 3.1
     * Instruct ends a turn with {@code <|eot_id|>}, its third).
     */
    public boolean isEos(int token) {
        return token == eosTokenId || moreEosTokenIds.contains(token);
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
        return rotary(ModelFamily.LLAMA, vocab, dim, hidden, layers, heads, kvHeads, dim / heads, seqLen, true);
    }

    /** A rotary family's configuration with Llama's defaults and a {@code head_dim} of its own. */
    public static ModelConfig rotary(
            ModelFamily family,
            int vocab,
            int dim,
            int hidden,
            int layers,
            int heads,
            int kvHeads,
            int headDim,
            int seqLen,
            boolean tiedEmbeddings) {
        return new ModelConfig(
                family,
                vocab,
                dim,
                hidden,
                layers,
                heads,
                kvHeads,
                headDim,
                seqLen,
                1e-5,
                10000.0,
                tiedEmbeddings,
                0.0,
                1,
                2,
                RopeScaling.NONE,
                List.of());
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
                ropeScaling,
                moreEosTokenIds);
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
                ropeScaling,
                moreEosTokenIds);
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
                scaling,
                moreEosTokenIds);
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
        return ConfigJson.read(dir);
    }

    static ModelConfig fromJson(JsonNode n, String where) {
        return ConfigJson.fromJson(n, where);
    }

    public void write(Path dir) throws IOException {
        ConfigJson.write(this, dir);
    }

    /** HF's {@code config.json} for this model, with the family's own keys. */
    public ObjectNode toJson() {
        return ConfigJson.toJson(this);
    }

    private static void require(boolean ok, String field, Object value) {
        if (!ok) {
            throw new IllegalArgumentException("invalid " + field + ": " + value);
        }
    }
}
