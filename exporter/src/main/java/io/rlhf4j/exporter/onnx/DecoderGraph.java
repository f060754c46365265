package io.rlhf4j.exporter.onnx;

import static io.rlhf4j.exporter.onnx.GraphBuilder.BOOL;
import static io.rlhf4j.exporter.onnx.GraphBuilder.FLOAT;
import static io.rlhf4j.exporter.onnx.GraphBuilder.INT64;

import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.exporter.onnx.GraphBuilder.Attr;
import io.rlhf4j.exporter.onnx.proto.Onnx.ModelProto;
import java.util.List;
import java.util.Map;

/**
 * The trainer's decoder as ONNX graphs, op for op the same computation as {@code Decoder}:
 *
 * <ul>
 *   <li>policy: inputs {@code input_ids}, {@code attention_mask} [batch, past + sequence],
 *       {@code position_ids} and {@code past_key_values.<i>.key|value}; outputs {@code logits} and
 *       {@code present.<i>.key|value}. An empty past makes it a prefill, a one-token input a decode
 *       step: one graph serves both.
 *   <li>reward: inputs {@code input_ids}, {@code attention_mask}, {@code position_ids}; output
 *       {@code rewards} [batch], the scalar head read at each row's last real token.
 * </ul>
 *
 * Linear weights are stored transposed ([in, out]) so every projection is one MatMul; the tied
 * unembedding reuses the embedding table through Gemm's transB instead of storing it twice.
 */
public final class DecoderGraph {

    public static final int OPSET = 17;
    public static final String LOGITS_FROM = io.rlhf4j.core.checkpoint.Layout.LOGITS_FROM;

    private static final float MASKED = -1e9f;

    private final ModelConfig c;
    private final Map<String, Tensor> w;
    private final GraphBuilder g;
    private final boolean llama;
    private final Quantization quantization;

    private DecoderGraph(ModelConfig config, Map<String, Tensor> weights, String name, Quantization quantization) {
        this.c = config;
        this.w = weights;
        this.g = new GraphBuilder(name);
        this.llama = config.family().rotary();
        this.quantization = quantization;
    }

    public static ModelProto policy(ModelConfig config, Map<String, Tensor> weights, Map<String, String> metadata) {
        return policy(config, weights, metadata, null);
    }

    /** The policy graph with its projections quantized as {@code quantization} says (fp32 when null). */
    public static ModelProto policy(
            ModelConfig config, Map<String, Tensor> weights, Map<String, String> metadata, Quantization quantization) {
        DecoderGraph d = new DecoderGraph(config, weights, "rlhf4j_policy", quantization);
        String ids = d.g.input("input_ids", INT64, "batch", "sequence");
        String mask = d.g.input("attention_mask", INT64, "batch", "total_sequence");
        String positions = d.g.input("position_ids", INT64, "batch", "sequence");
        String[] pastK = new String[config.numLayers()];
        String[] pastV = new String[config.numLayers()];
        for (int i = 0; i < config.numLayers(); i++) {
            pastK[i] = d.g.input(
                    "past_key_values." + i + ".key", FLOAT, "batch", (long) config.numKvHeads(), "past_sequence", (long)
                            config.headDim());
            pastV[i] = d.g.input(
                    "past_key_values." + i + ".value",
                    FLOAT,
                    "batch",
                    (long) config.numKvHeads(),
                    "past_sequence",
                    (long) config.headDim());
        }
        // The first new position whose logits come out: 0 gives every position, as prompt log-probs and
        // the parity check need; sequence - 1 only the next token's, sparing the others' unembedding.
        // (Required: ONNX Runtime's Java API cannot feed an input that has a default.)
        String logitsFrom = d.g.input(LOGITS_FROM, INT64, 1L);
        String hidden = d.trunk(ids, mask, positions, pastK, pastV);
        String wanted = d.g.op("Slice", List.of(hidden, logitsFrom, d.g.ints(Long.MAX_VALUE), d.g.ints(1)));
        d.g.output("logits", d.unembed(wanted), FLOAT, "batch", "logits_sequence", (long) config.vocabSize());
        return d.g.model(OPSET, "rlhf4j", metadata);
    }

    /**
     * @param scoreWeight the head's weight [1, hidden]; {@code scoreBias} [1] or null
     */
    public static ModelProto reward(
            ModelConfig config,
            Map<String, Tensor> weights,
            Tensor scoreWeight,
            Tensor scoreBias,
            Map<String, String> metadata) {
        DecoderGraph d = new DecoderGraph(config, weights, "rlhf4j_reward", null);
        String ids = d.g.input("input_ids", INT64, "batch", "sequence");
        String mask = d.g.input("attention_mask", INT64, "batch", "sequence");
        String positions = d.g.input("position_ids", INT64, "batch", "sequence");
        String hidden = d.trunk(ids, mask, positions, null, null);
        // One-hot of each row's last real position: argmax of mask * (0..S-1) finds it for left or right padding.
        GraphBuilder g = d.g;
        String seqLen = g.op("Gather", g.op("Shape", ids), g.scalar(1L), Attr.i("axis", 0));
        String range = g.op("Range", List.of(g.scalar(0L), seqLen, g.scalar(1L)));
        String lastIndex = g.op("ArgMax", g.op("Mul", mask, range), Attr.i("axis", 1), Attr.i("keepdims", 1));
        String oneHot =
                g.op("Cast", g.op("Equal", g.op("Unsqueeze", range, g.ints(0)), lastIndex), Attr.i("to", FLOAT));
        String last = g.op(
                "ReduceSum",
                List.of(g.op("Mul", hidden, g.op("Unsqueeze", oneHot, g.ints(2))), g.ints(1)),
                Attr.i("keepdims", 0));
        String head = g.weight("score.weight.T", new long[] {config.hiddenSize(), 1}, scoreWeight.data());
        String r = g.op("MatMul", last, head);
        if (scoreBias != null) {
            r = g.op("Add", r, g.weight(scoreBias));
        }
        g.output("rewards", g.op("Squeeze", r, g.ints(1)), FLOAT, "batch");
        return g.model(OPSET, "rlhf4j", metadata);
    }

    /** Embeddings, every block, the final norm: hidden states [B, T, D]. */
    private String trunk(String ids, String mask, String positions, String[] pastK, String[] pastV) {
        String x;
        if (llama) {
            x = g.op("Gather", g.weight(w.get("model.embed_tokens.weight")), ids, Attr.i("axis", 0));
        } else {
            x = g.op(
                    "Add",
                    g.op("Gather", g.weight(w.get("transformer.wte.weight")), ids, Attr.i("axis", 0)),
                    g.op("Gather", g.weight(w.get("transformer.wpe.weight")), positions, Attr.i("axis", 0)));
        }
        // allowed[b, 0, i, j]: query i (absolute past + i) sees key j if j <= past + i and key j is real.
        String total = g.op("Gather", g.op("Shape", mask), g.scalar(1L), Attr.i("axis", 0));
        String len = g.op("Gather", g.op("Shape", ids), g.scalar(1L), Attr.i("axis", 0));
        String past = g.op("Sub", total, len);
        String qIndex = g.op("Unsqueeze", g.op("Range", List.of(past, total, g.scalar(1L))), g.ints(1));
        String kIndex = g.op("Unsqueeze", g.op("Range", List.of(g.scalar(0L), total, g.scalar(1L))), g.ints(0));
        String causal = g.op("Unsqueeze", g.op("LessOrEqual", kIndex, qIndex), g.ints(0, 1));
        String real = g.op("Unsqueeze", g.op("Cast", mask, Attr.i("to", BOOL)), g.ints(1, 2));
        String bias = g.op("Where", List.of(g.op("And", causal, real), g.scalar(0f), g.scalar(MASKED)));

        String[] rope = llama ? rotary(positions) : null;
        for (int layer = 0; layer < c.numLayers(); layer++) {
            x = block(x, layer, bias, rope, pastK == null ? null : pastK[layer], pastV == null ? null : pastV[layer]);
        }
        return llama
                ? rmsNorm(x, "model.norm.weight")
                : layerNorm(x, "transformer.ln_f.weight", "transformer.ln_f.bias");
    }

    private String block(String x, int layer, String bias, String[] rope, String pastK, String pastV) {
        int heads = c.numHeads();
        int kvHeads = c.numKvHeads();
        long hd = c.headDim();
        String q;
        String k;
        String v;
        String h;
        String p;
        if (llama) {
            p = "model.layers." + layer + ".";
            h = rmsNorm(x, p + "input_layernorm.weight");
            q = projectHeads(h, p + "self_attn.q_proj", p + "self_attn.q_norm.weight", heads);
            k = projectHeads(h, p + "self_attn.k_proj", p + "self_attn.k_norm.weight", kvHeads);
            v = projectHeads(h, p + "self_attn.v_proj", null, kvHeads);
            q = applyRotary(q, rope);
            k = applyRotary(k, rope);
        } else {
            p = "transformer.h." + layer + ".";
            h = layerNorm(x, p + "ln_1.weight", p + "ln_1.bias");
            String qkv =
                    g.op("Add", linear(h, p + "attn.c_attn.weight", false), g.weight(w.get(p + "attn.c_attn.bias")));
            long d = c.hiddenSize();
            String[] split = g.ops("Split", 3, List.of(qkv, g.ints(d, d, d)), Attr.i("axis", -1));
            q = heads(split[0], heads);
            k = heads(split[1], heads);
            v = heads(split[2], heads);
        }
        if (pastK != null) {
            k = g.op("Concat", pastK, k, Attr.i("axis", 2));
            v = g.op("Concat", pastV, v, Attr.i("axis", 2));
            g.output("present." + layer + ".key", k, FLOAT, "batch", (long) kvHeads, "total_sequence", hd);
            g.output("present." + layer + ".value", v, FLOAT, "batch", (long) kvHeads, "total_sequence", hd);
        }
        int groups = heads / kvHeads;
        if (groups > 1) {
            // Grouped-query attention: query head h reads key/value head h / groups.
            String repeats = g.ints(1, 1, groups, 1, 1);
            String shape = g.ints(0, heads, -1, hd);
            k = g.op("Reshape", g.op("Tile", g.op("Unsqueeze", k, g.ints(2)), repeats), shape);
            v = g.op("Reshape", g.op("Tile", g.op("Unsqueeze", v, g.ints(2)), repeats), shape);
        }
        String scores =
                g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, Attr.ints("perm", 0, 1, 3, 2))), g.scalar((float)
                        (1.0 / Math.sqrt(hd))));
        String probs = g.op("Softmax", g.op("Add", scores, bias), Attr.i("axis", -1));
        String attn = g.op(
                "Reshape",
                g.op("Transpose", g.op("MatMul", probs, v), Attr.ints("perm", 0, 2, 1, 3)),
                g.ints(0, 0, c.queryWidth()));
        if (llama) {
            x = g.op("Add", x, linear(attn, p + "self_attn.o_proj.weight", true));
            h = rmsNorm(x, p + "post_attention_layernorm.weight");
            String gate = linear(h, p + "mlp.gate_proj.weight", true);
            String up = linear(h, p + "mlp.up_proj.weight", true);
            String act = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), up);
            return g.op("Add", x, linear(act, p + "mlp.down_proj.weight", true));
        }
        x = g.op(
                "Add",
                x,
                g.op("Add", linear(attn, p + "attn.c_proj.weight", false), g.weight(w.get(p + "attn.c_proj.bias"))));
        h = layerNorm(x, p + "ln_2.weight", p + "ln_2.bias");
        String fc = g.op("Add", linear(h, p + "mlp.c_fc.weight", false), g.weight(w.get(p + "mlp.c_fc.bias")));
        String out = g.op(
                "Add", linear(geluTanh(fc), p + "mlp.c_proj.weight", false), g.weight(w.get(p + "mlp.c_proj.bias")));
        return g.op("Add", x, out);
    }

    /** The trainer's projectHeads: MatMul, its bias (Qwen2) and per-head RMSNorm (Qwen3) where present. */
    private String projectHeads(String h, String proj, String norm, int n) {
        String x = linear(h, proj + ".weight", true);
        if (w.containsKey(proj + ".bias")) {
            x = g.op("Add", x, g.weight(w.get(proj + ".bias")));
        }
        if (norm != null && w.containsKey(norm)) {
            String perHead = g.op("Reshape", x, g.ints(0, 0, n, c.headDim()));
            return g.op("Transpose", rmsNorm(perHead, norm), Attr.ints("perm", 0, 2, 1, 3));
        }
        return heads(x, n);
    }

    /** [B, T, n * hd] to [B, n, T, hd]. */
    private String heads(String x, int n) {
        return g.op("Transpose", g.op("Reshape", x, g.ints(0, 0, n, c.headDim())), Attr.ints("perm", 0, 2, 1, 3));
    }

    /** cos and sin [B, 1, T, hd] for HF's rotate-half rotary embedding. */
    private String[] rotary(String positions) {
        int hd = c.headDim();
        float[] invFreq = c.inverseFrequencies();
        String freqs = g.op(
                "Mul",
                g.op("Unsqueeze", g.op("Cast", positions, Attr.i("to", FLOAT)), g.ints(-1)),
                g.weight("rotary.inv_freq", new long[] {hd / 2}, invFreq));
        String emb = g.op("Unsqueeze", g.op("Concat", freqs, freqs, Attr.i("axis", -1)), g.ints(1));
        return new String[] {g.op("Cos", emb), g.op("Sin", emb)};
    }

    private String applyRotary(String x, String[] rope) {
        long half = c.headDim() / 2;
        String x1 = g.op("Slice", List.of(x, g.ints(0), g.ints(half), g.ints(3)));
        String x2 = g.op("Slice", List.of(x, g.ints(half), g.ints(2 * half), g.ints(3)));
        String rotated = g.op("Concat", g.op("Neg", x2), x1, Attr.i("axis", -1));
        return g.op("Add", g.op("Mul", x, rope[0]), g.op("Mul", rotated, rope[1]));
    }

    private String rmsNorm(String x, String weight) {
        // Pow(x, 2) rather than Mul(x, x): the pattern ONNX Runtime fuses into SimplifiedLayerNormalization.
        String meanSquare =
                g.op("ReduceMean", g.op("Pow", x, g.scalar(2f)), Attr.ints("axes", -1), Attr.i("keepdims", 1));
        String rms = g.op("Sqrt", g.op("Add", meanSquare, g.scalar((float) c.normEps())));
        return g.op("Mul", g.op("Div", x, rms), g.weight(w.get(weight)));
    }

    private String layerNorm(String x, String weight, String bias) {
        return g.op(
                "LayerNormalization",
                List.of(x, g.weight(w.get(weight)), g.weight(w.get(bias))),
                Attr.i("axis", -1),
                Attr.f("epsilon", (float) c.normEps()));
    }

    /** GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    private String geluTanh(String x) {
        String cube = g.op("Mul", g.op("Mul", x, x), x);
        String inner = g.op("Mul", g.op("Add", x, g.op("Mul", cube, g.scalar(0.044715f))), g.scalar((float)
                Math.sqrt(2.0 / Math.PI)));
        return g.op("Mul", g.op("Mul", x, g.scalar(0.5f)), g.op("Add", g.op("Tanh", inner), g.scalar(1f)));
    }

    /** Hidden [B, T, D] to logits [B, T, V]. */
    private String unembed(String hidden) {
        String table = w.containsKey("lm_head.weight")
                ? "lm_head.weight"
                : llama ? "model.embed_tokens.weight" : "transformer.wte.weight";
        String flat = g.op("Reshape", hidden, g.ints(-1, c.hiddenSize()));
        String logits;
        if (quantization != null && quantization.unembedding()) {
            // [vocab, hidden] is already MatMulNBits' [N, K]; a tied table keeps its fp32 copy for the lookup.
            logits = quantized(
                    flat, table, w.get(table).data(), c.vocabSize(), c.hiddenSize(), quantization.unembeddingBits());
        } else {
            logits = g.op("Gemm", flat, table, Attr.i("transB", 1));
            if (table.equals("lm_head.weight")) {
                g.weight(w.get(table));
            }
        }
        String batchAndLength = g.op("Slice", List.of(g.op("Shape", hidden), g.ints(0), g.ints(2)));
        String shape = g.op("Concat", batchAndLength, g.ints(c.vocabSize()), Attr.i("axis", 0));
        return g.op("Reshape", logits, shape);
    }

    /**
     * {@code x} times a projection's weight: one MatMul over it stored [in, out], or MatMulNBits over its
     * blocks under a quantization. {@code outIn}: stored [out, in] (HF's Linear) rather than [in, out]
     * (GPT-2's Conv1D).
     */
    private String linear(String x, String name, boolean outIn) {
        Tensor t = w.get(name);
        if (quantization == null) {
            return g.op("MatMul", x, outIn ? transposed(name) : g.weight(t));
        }
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        int bits = quantization.format().bits();
        return outIn
                ? quantized(x, name, t.data(), rows, cols, bits)
                : quantized(x, name, transpose(t.data(), rows, cols), cols, rows, bits);
    }

    /** MatMulNBits over {@code outIn}, [n, k]: the quantized weight's codes and scales as initializers. */
    private String quantized(String x, String name, float[] outIn, int n, int k, int bits) {
        BlockQuantizer.Quantized q = BlockQuantizer.quantize(outIn, n, k, bits, quantization.block());
        String codes = g.bytes(name + ".q" + q.bits(), new long[] {n, q.blocks(), q.blobSize()}, q.codes());
        String scales = g.weight(name + ".scales", new long[] {n, q.blocks()}, q.scales());
        return g.contrib(
                "MatMulNBits",
                List.of(x, codes, scales),
                Attr.i("K", k),
                Attr.i("N", n),
                Attr.i("bits", q.bits()),
                Attr.i("block_size", q.block()),
                Attr.i("accuracy_level", quantization.accuracyLevel()));
    }

    private static float[] transpose(float[] data, int rows, int cols) {
        float[] out = new float[data.length];
        for (int r = 0; r < rows; r++) {
            for (int col = 0; col < cols; col++) {
                out[col * rows + r] = data[r * cols + col];
            }
        }
        return out;
    }

    /** A [out, in] projection stored as [in, out]. */
    private String transposed(String name) {
        Tensor t = w.get(name);
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        return g.weight(name + ".T", new long[] {cols, rows}, transpose(t.data(), rows, cols));
    }
}
