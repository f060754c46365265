package io.rlhf4j.core.config;

import java.util.Locale;
import java.util.Optional;

/**
 * The decoder families the project supports, named by HF's {@code model_type}. The rotary families
 * share Llama's block and tensor names and differ only in the traits below, so both engines (the
 * trainer's decoder and the ONNX graph) read the traits rather than the family.
 *
 * <p>Phi-3 is not a family here: its fused {@code qkv_proj} and {@code gate_up_proj} are split on import
 * into Llama's projections, after which it is a Llama (see {@code HfImporter}).
 */
public enum ModelFamily {
    /** RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention. */
    LLAMA("llama", "LlamaForCausalLM", "llama", false, false),
    /** Llama's computation; its sliding window is honoured by capping the context (see ModelConfig). */
    MISTRAL("mistral", "MistralForCausalLM", "llama", false, false),
    /** Llama with biases on the q, k and v projections (not on o). */
    QWEN2("qwen2", "Qwen2ForCausalLM", "qwen2", true, false),
    /** Llama with an RMSNorm over each head of q and of k before the rotary embedding. */
    QWEN3("qwen3", "Qwen3ForCausalLM", "qwen3", false, true),
    /** LayerNorm, learned positions, GELU MLP, fused QKV in Conv1D layout. */
    GPT2("gpt2", "GPT2LMHeadModel", "gpt2", false, false);

    private final String modelType;
    private final String architecture;
    private final String ggufArchitecture;
    private final boolean qkvBias;
    private final boolean qkNorm;

    ModelFamily(String modelType, String architecture, String ggufArchitecture, boolean qkvBias, boolean qkNorm) {
        this.modelType = modelType;
        this.architecture = architecture;
        this.ggufArchitecture = ggufArchitecture;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
    }

    /** HF's {@code model_type}. */
    public String modelType() {
        return modelType;
    }

    /** HF's class name in {@code architectures}. */
    public String architecture() {
        return architecture;
    }

    /** llama.cpp's {@code general.architecture}: Mistral runs as {@code llama} there. */
    public String ggufArchitecture() {
        return ggufArchitecture;
    }

    /** Llama's block: RMSNorm, rotary positions, SwiGLU, {@code model.layers.*} names. */
    public boolean rotary() {
        return this != GPT2;
    }

    /** Biases on the q, k and v projections. */
    public boolean qkvBias() {
        return qkvBias;
    }

    /** Per-head RMSNorm of q and k ({@code self_attn.q_norm}, {@code k_norm}). */
    public boolean qkNorm() {
        return qkNorm;
    }

    public static Optional<ModelFamily> fromModelType(String type) {
        String t = type.toLowerCase(Locale.ROOT);
        for (ModelFamily f : values()) {
            if (f.modelType.equals(t)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }
}
