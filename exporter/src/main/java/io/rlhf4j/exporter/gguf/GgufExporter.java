package io.rlhf4j.exporter.gguf;

import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.AtomicDirectory;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a checkpoint as GGUF for llama.cpp and Ollama: {@code model.gguf} (the weights as
 * {@code --type} asks, the hyper-parameters, the tokenizer and the chat template) and an Ollama
 * {@code Modelfile} beside it, into a directory replaced atomically.
 *
 * <p>Names and layouts follow llama.cpp's own {@code convert_hf_to_gguf.py}: HF's {@code [out, in]}
 * matrices are stored as they are (GGUF lists dimensions innermost first); for the {@code llama}
 * architecture the rows of q and k are permuted from HF's rotate-half order into the interleaved pairs
 * llama.cpp's rotary embedding expects ({@code LlamaModel.permute}); Qwen2 and Qwen3 use the
 * rotate-half ("NeoX") rotary in llama.cpp and are not permuted. Llama 3's rope scaling travels as
 * the {@code rope_freqs} factors llama.cpp divides each frequency by.
 */
public final class GgufExporter {

    public static final String MODEL_FILE = "model.gguf";

    /** {@code general.file_type}'s values (llama.cpp's {@code llama_ftype}). */
    public enum Type {
        f32(GgmlType.F32, 0),
        f16(GgmlType.F16, 1),
        q8_0(GgmlType.Q8_0, 7),
        q4_0(GgmlType.Q4_0, 2);

        final GgmlType matrices;
        final int fileType;

        Type(GgmlType matrices, int fileType) {
            this.matrices = matrices;
            this.fileType = fileType;
        }
    }

    private final PrintStream log;

    public GgufExporter(PrintStream log) {
        this.log = log;
    }

    public void export(Path model, Path out, Type type) throws IOException {
        long started = System.nanoTime();
        ModelConfig c = Checkpoint.readConfig(model);
        if (!c.family().rotary()) {
            throw new CheckpointFormatException(model + ": GGUF export takes the Llama-architecture families "
                    + "(llama, mistral, qwen2, qwen3), not " + c.family().modelType());
        }
        String arch = c.family().ggufArchitecture();
        if (!arch.equals("llama") && c.ropeScaling().type().equals("llama3")) {
            throw new CheckpointFormatException(model + ": llama.cpp reads Llama 3's rope scaling only for the llama "
                    + "architecture, not " + arch);
        }
        Map<String, Tensor> weights = Checkpoint.readWeights(model);
        Decoder.checkTensors(c, weights, model.toString());
        ChatTemplate template = ChatTemplate.load(model);

        GgufFile gguf = new GgufFile();
        gguf.put("general.architecture", arch);
        gguf.put(
                "general.name", model.toAbsolutePath().normalize().getFileName().toString());
        gguf.putUInt("general.file_type", type.fileType);
        if (type.matrices != GgmlType.F32 && type.matrices != GgmlType.F16) {
            gguf.putUInt("general.quantization_version", 2);
        }
        gguf.putUInt(arch + ".context_length", c.maxPositions());
        gguf.putUInt(arch + ".embedding_length", c.hiddenSize());
        gguf.putUInt(arch + ".block_count", c.numLayers());
        gguf.putUInt(arch + ".feed_forward_length", c.intermediateSize());
        gguf.putUInt(arch + ".attention.head_count", c.numHeads());
        gguf.putUInt(arch + ".attention.head_count_kv", c.numKvHeads());
        gguf.putUInt(arch + ".attention.key_length", c.headDim());
        gguf.putUInt(arch + ".attention.value_length", c.headDim());
        gguf.putFloat(arch + ".attention.layer_norm_rms_epsilon", c.normEps());
        gguf.putFloat(arch + ".rope.freq_base", c.ropeTheta());
        gguf.putUInt(arch + ".rope.dimension_count", c.headDim());
        gguf.putUInt(arch + ".vocab_size", c.vocabSize());
        if (c.ropeScaling().type().equals("linear")) {
            gguf.put(arch + ".rope.scaling.type", "linear");
            gguf.putFloat(arch + ".rope.scaling.factor", c.ropeScaling().factor());
        }
        GgufVocabulary.write(model.resolve("tokenizer.json"), c, gguf);
        // What serving renders conversations with, so llama.cpp's and Ollama's chat agree with ours.
        gguf.put("tokenizer.chat_template", template.source());

        int quantized = 0;
        int matrices = 0;
        for (Map.Entry<String, long[]> e :
                io.rlhf4j.core.checkpoint.TensorLayout.shapes(c).entrySet()) {
            String hf = e.getKey();
            long[] shape = e.getValue();
            GgmlType t = typeOf(hf, shape, type);
            matrices += shape.length == 2 ? 1 : 0;
            quantized += t == type.matrices && shape.length == 2 ? 1 : 0;
            Tensor w = weights.get(hf);
            gguf.tensor(ggufName(hf), shape, t, () -> arch.equals("llama") ? permuted(hf, w.data(), c) : w.data());
        }
        if (c.ropeScaling().type().equals("llama3")) {
            gguf.tensor("rope_freqs.weight", new long[] {c.headDim() / 2}, GgmlType.F32, () -> ropeFactors(c));
        }

        AtomicDirectory.write(out, tmp -> {
            gguf.write(tmp.resolve(MODEL_FILE));
            OllamaModelfile.write(tmp, MODEL_FILE, template, model);
        });
        log.printf(
                Locale.ROOT,
                "wrote %s (%s, %s, %d of %d matrices as %s, %,d bytes) and Modelfile in %.1f s%n",
                out.resolve(MODEL_FILE),
                arch,
                type,
                quantized,
                matrices,
                type.matrices,
                Files.size(out.resolve(MODEL_FILE)),
                (System.nanoTime() - started) / 1e9);
    }

    /**
     * Norms and biases stay F32, as llama.cpp's converter keeps them. With q4_0, the unembedding (the
     * embedding table when tied) is Q8_0: llama.cpp's quantizer likewise spends more bits on it. A
     * matrix whose rows are not whole blocks falls back to F16.
     */
    private static GgmlType typeOf(String hf, long[] shape, Type type) {
        if (shape.length == 1) {
            return GgmlType.F32;
        }
        GgmlType t = type.matrices;
        if (t == GgmlType.Q4_0 && (hf.equals("lm_head.weight") || hf.equals("model.embed_tokens.weight"))) {
            t = GgmlType.Q8_0;
        }
        return shape[1] % t.blockSize() == 0 ? t : GgmlType.F16;
    }

    /** llama.cpp's tensor names ({@code gguf-py}'s {@code TensorNameMap}) for HF's. */
    static String ggufName(String hf) {
        switch (hf) {
            case "model.embed_tokens.weight":
                return "token_embd.weight";
            case "model.norm.weight":
                return "output_norm.weight";
            case "lm_head.weight":
                return "output.weight";
            default:
                break;
        }
        String rest = hf.substring("model.layers.".length());
        int dot = rest.indexOf('.');
        String layer = rest.substring(0, dot);
        String part = rest.substring(dot + 1);
        String name = switch (part.substring(0, part.lastIndexOf('.'))) {
            case "input_layernorm" -> "attn_norm";
            case "self_attn.q_proj" -> "attn_q";
            case "self_attn.k_proj" -> "attn_k";
            case "self_attn.v_proj" -> "attn_v";
            case "self_attn.o_proj" -> "attn_output";
            case "self_attn.q_norm" -> "attn_q_norm";
            case "self_attn.k_norm" -> "attn_k_norm";
            case "post_attention_layernorm" -> "ffn_norm";
            case "mlp.gate_proj" -> "ffn_gate";
            case "mlp.up_proj" -> "ffn_up";
            case "mlp.down_proj" -> "ffn_down";
            default -> throw new IllegalArgumentException("no GGUF name for " + hf);
        };
        return "blk." + layer + "." + name + part.substring(part.lastIndexOf('.'));
    }

    /**
     * q and k rows from HF's rotate-half order (a head's first half of dimensions pairs with its second)
     * to interleaved pairs: {@code w.reshape(heads, 2, hd / 2, in).swapaxes(1, 2)}, llama.cpp's permute.
     */
    static float[] permuted(String hf, float[] w, ModelConfig c) {
        int heads;
        if (hf.endsWith("self_attn.q_proj.weight")) {
            heads = c.numHeads();
        } else if (hf.endsWith("self_attn.k_proj.weight")) {
            heads = c.numKvHeads();
        } else {
            return w;
        }
        int hd = c.headDim();
        int half = hd / 2;
        int cols = w.length / (heads * hd);
        float[] out = new float[w.length];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    int from = h * hd + j * half + i;
                    int to = h * hd + 2 * i + j;
                    System.arraycopy(w, from * cols, out, to * cols, cols);
                }
            }
        }
        return out;
    }

    /** Llama 3's scaling as llama.cpp applies it: each base frequency divided by its factor. */
    private static float[] ropeFactors(ModelConfig c) {
        float[] base = io.rlhf4j.core.config.RopeScaling.NONE.inverseFrequencies(c.ropeTheta(), c.headDim());
        float[] scaled = c.inverseFrequencies();
        float[] f = new float[base.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = base[i] / scaled[i];
        }
        return f;
    }
}
