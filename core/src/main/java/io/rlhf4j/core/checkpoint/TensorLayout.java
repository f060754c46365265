package io.rlhf4j.core.checkpoint;

import io.rlhf4j.core.config.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The HF tensor names and shapes of a model with a given config, in checkpoint order: the contract
 * between the checkpoint files, the trainer's decoder, the ONNX graph and the GGUF writer.
 */
public final class TensorLayout {

    private TensorLayout() {}

    /** Name to shape, in checkpoint order; a tied unembedding has no {@code lm_head.weight}. */
    public static Map<String, long[]> shapes(ModelConfig c) {
        return c.family().rotary() ? rotary(c) : gpt2(c);
    }

    private static Map<String, long[]> rotary(ModelConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long f = c.intermediateSize();
        long q = c.queryWidth();
        long kv = c.kvWidth();
        s.put("model.embed_tokens.weight", new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            s.put(p + "input_layernorm.weight", new long[] {d});
            s.put(p + "self_attn.q_proj.weight", new long[] {q, d});
            s.put(p + "self_attn.k_proj.weight", new long[] {kv, d});
            s.put(p + "self_attn.v_proj.weight", new long[] {kv, d});
            if (c.family().qkvBias()) {
                s.put(p + "self_attn.q_proj.bias", new long[] {q});
                s.put(p + "self_attn.k_proj.bias", new long[] {kv});
                s.put(p + "self_attn.v_proj.bias", new long[] {kv});
            }
            if (c.family().qkNorm()) {
                s.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
                s.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
            }
            s.put(p + "self_attn.o_proj.weight", new long[] {d, q});
            s.put(p + "post_attention_layernorm.weight", new long[] {d});
            s.put(p + "mlp.gate_proj.weight", new long[] {f, d});
            s.put(p + "mlp.up_proj.weight", new long[] {f, d});
            s.put(p + "mlp.down_proj.weight", new long[] {d, f});
        }
        s.put("model.norm.weight", new long[] {d});
        if (!c.tieWordEmbeddings()) {
            s.put("lm_head.weight", new long[] {c.vocabSize(), d});
        }
        return s;
    }

    private static Map<String, long[]> gpt2(ModelConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long f = c.intermediateSize();
        s.put("transformer.wte.weight", new long[] {c.vocabSize(), d});
        s.put("transformer.wpe.weight", new long[] {c.maxPositions(), d});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "transformer.h." + i + ".";
            s.put(p + "ln_1.weight", new long[] {d});
            s.put(p + "ln_1.bias", new long[] {d});
            s.put(p + "attn.c_attn.weight", new long[] {d, 3 * d});
            s.put(p + "attn.c_attn.bias", new long[] {3 * d});
            s.put(p + "attn.c_proj.weight", new long[] {d, d});
            s.put(p + "attn.c_proj.bias", new long[] {d});
            s.put(p + "ln_2.weight", new long[] {d});
            s.put(p + "ln_2.bias", new long[] {d});
            s.put(p + "mlp.c_fc.weight", new long[] {d, f});
            s.put(p + "mlp.c_fc.bias", new long[] {f});
            s.put(p + "mlp.c_proj.weight", new long[] {f, d});
            s.put(p + "mlp.c_proj.bias", new long[] {d});
        }
        s.put("transformer.ln_f.weight", new long[] {d});
        s.put("transformer.ln_f.bias", new long[] {d});
        if (!c.tieWordEmbeddings()) {
            s.put("lm_head.weight", new long[] {c.vocabSize(), d});
        }
        return s;
    }
}
