package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.training.GradientCollector;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.checkpoint.TensorLayout;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * The decoder-only transformer, both blocks in one readable class: Llama's (RMSNorm, rotary positions
 * in HF's rotate-half convention, SwiGLU, grouped-query attention; Mistral's, Qwen2's q/k/v biases and
 * Qwen3's per-head q/k norms are the same block) and GPT-2's (LayerNorm, learned
 * positions, tanh-GELU, fused QKV in HF's Conv1D [in, out] layout).
 *
 * <p>Parameters are plain DJL arrays keyed by their HF tensor names, so checkpoint I/O is a rename-free
 * copy. One forward serves training (whole sequences, causal plus padding mask) and generation
 * (a few new positions against a {@link KvCache}). Not thread-safe: one owner at a time.
 */
public final class Decoder implements AutoCloseable {

    private static final float MASKED = -1e9f;

    private final ModelConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    /** False for a {@link #view}: the arrays belong to the model it was made from. */
    private final boolean owner;

    private LoraAdapter adapter;

    private Decoder(ModelConfig config, NDManager manager, Map<String, NDArray> params, boolean owner) {
        this.config = config;
        this.manager = manager;
        this.params = params;
        this.owner = owner;
    }

    public ModelConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    /** Parameters by HF name, in checkpoint order (tied embeddings appear once). */
    public Map<String, NDArray> parameters() {
        return Collections.unmodifiableMap(params);
    }

    // ------------------------------------------------------------------ construction

    /**
     * Builds a model from checkpoint tensors. Names must match HF's; extra tensors that HF stores but
     * the model derives (GPT-2's attention-mask buffers, a tied {@code lm_head}) are ignored.
     */
    public static Decoder fromTensors(
            ModelConfig config, Map<String, Tensor> tensors, NDManager parent, String source) {
        List<Tensor> ordered = checkTensors(config, tensors, source);
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Tensor t : ordered) {
            params.put(t.name(), Owned.copy(manager.create(t.data(), new Shape(t.shape()))));
        }
        return new Decoder(config, manager, params, true);
    }

    /**
     * The tensors this config needs, in checkpoint order, each checked for presence and shape; the
     * message of a failure names {@code source} and the tensor.
     */
    public static List<Tensor> checkTensors(ModelConfig config, Map<String, Tensor> tensors, String source) {
        List<Tensor> ordered = new ArrayList<>();
        for (Map.Entry<String, long[]> e : TensorLayout.shapes(config).entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) {
                throw new CheckpointFormatException(source + ": tensor '" + e.getKey() + "' is missing");
            }
            if (!Arrays.equals(t.shape(), e.getValue())) {
                throw new CheckpointFormatException(source + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(t.shape()) + ", config.json implies " + Arrays.toString(e.getValue()));
            }
            ordered.add(t);
        }
        return ordered;
    }

    /** Loads {@code config.json} and {@code model.safetensors} from a checkpoint directory. */
    public static Decoder load(java.nio.file.Path dir, NDManager parent) throws java.io.IOException {
        ModelConfig config = io.rlhf4j.core.checkpoint.Checkpoint.readConfig(dir);
        io.rlhf4j.core.checkpoint.MemoryBudget.require(config, dir.toString());
        Map<String, Tensor> tensors = io.rlhf4j.core.checkpoint.Checkpoint.readWeights(dir);
        return fromTensors(config, tensors, parent, dir.toString());
    }

    /**
     * A freshly initialised model: weights ~ N(0, 0.02), residual output projections scaled by
     * 1/sqrt(2 * layers) as in GPT-2 so that the residual stream's variance does not grow with depth.
     */
    public static Decoder initialise(ModelConfig config, NDManager parent, long seed) {
        NDManager manager = parent.newSubManager();
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, NDArray> params = new LinkedHashMap<>();
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numLayers());
        for (Map.Entry<String, long[]> e : TensorLayout.shapes(config).entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            float[] data = new float[(int) Tensor.numel(shape)];
            boolean norm = name.contains("norm") || name.contains("ln_");
            if (norm && name.endsWith(".weight")) {
                Arrays.fill(data, 1f);
            } else if (!name.endsWith(".bias")) {
                boolean residual = name.endsWith("o_proj.weight")
                        || name.endsWith("down_proj.weight")
                        || name.endsWith("attn.c_proj.weight")
                        || name.endsWith("mlp.c_proj.weight");
                double std = residual ? residualStd : 0.02;
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) (Ops.gaussian(rng) * std);
                }
            }
            params.put(name, Owned.copy(manager.create(data, new Shape(shape))));
        }
        return new Decoder(config, manager, params, true);
    }

    /**
     * Copies the model out as checkpoint tensors (HF names, row-major fp32): what it computes, so an
     * attached adapter is merged in and a checkpoint of it loads as an ordinary model.
     */
    public List<Tensor> toTensors() {
        List<Tensor> out = new ArrayList<>(params.size());
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            out.add(new Tensor(e.getKey(), e.getValue().getShape().getShape(), floats(e.getValue())));
        }
        return adapter == null ? out : adapter.merge(out);
    }

    private static float[] floats(NDArray p) {
        if (p.getDataType() == DataType.FLOAT32) {
            return p.toFloatArray();
        }
        try (NDArray wide = p.toType(DataType.FLOAT32, false)) {
            return wide.toFloatArray();
        }
    }

    /** Overwrites the parameters in place (for resuming from a checkpoint). */
    public void load(Map<String, Tensor> tensors) {
        if (!owner) {
            throw new IllegalStateException("a LoRA view shares its base's weights: load its adapter instead");
        }
        requireFp32("loaded in place");
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            if (t == null) {
                throw new CheckpointFormatException("tensor '" + e.getKey() + "' is missing");
            }
            Owned.overwrite(e.getValue(), t.data());
        }
    }

    /**
     * Marks what trains so that a {@link GradientCollector} records its gradients: every parameter, or
     * only the adapter's when one is attached (the base stays frozen).
     */
    public void requireGradients() {
        if (adapter != null) {
            adapter.requireGradients();
        } else {
            requireFp32("trained in full");
            params.values().forEach(p -> p.setRequiresGradient(true));
        }
    }

    /** What an optimizer steps: {@link #parameters()}, or the attached adapter's. */
    public Map<String, NDArray> trainableParameters() {
        return adapter != null ? adapter.parameters() : parameters();
    }

    /**
     * Adds {@code lora}'s update to this model's projections from now on (null: the base alone again,
     * as PPO's reference reads it). The caller keeps ownership of the adapter.
     */
    public void attach(LoraAdapter lora) {
        this.adapter = lora;
    }

    public LoraAdapter adapter() {
        return adapter;
    }

    /**
     * This model's frozen weights with {@code lora} attached, sharing every base array: how one base in
     * memory carries PPO's policy, critic and reward model as adapters while the base alone is the
     * reference. Closing the view frees nothing; the base must outlive it.
     */
    public Decoder view(LoraAdapter lora) {
        Decoder v = new Decoder(config, manager, params, false);
        v.attach(Objects.requireNonNull(lora, "lora"));
        return v;
    }

    /**
     * Holds this model's matrices (projections, embeddings, unembedding) in {@code precision} from now on,
     * for a base that only carries adapters; norms and biases stay fp32, and every matrix is widened to
     * fp32 where a forward uses it. Views made before or after see the same arrays. The model can then
     * neither train in full nor be loaded in place.
     */
    public void freeze(Precision precision) {
        if (precision == Precision.FP32) {
            return;
        }
        if (!owner || !config.family().rotary()) {
            throw new IllegalArgumentException(
                    "only a Llama-family base model (not a view of one) is held in " + precision.id());
        }
        List<String> matrices = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            if (e.getValue().getShape().dimension() == 2 && e.getValue().getDataType() != precision.type()) {
                float largest;
                try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                    scope.suppressNotUsedWarning();
                    largest = e.getValue().abs().max().getFloat();
                }
                if (largest > 65504f) { // checked before any is converted, so a refusal changes nothing
                    throw new IllegalArgumentException(
                            e.getKey() + " holds " + largest + ", beyond fp16's range (65504): keep this base in fp32");
                }
                matrices.add(e.getKey());
            }
        }
        for (String name : matrices) {
            NDArray p = params.get(name);
            params.put(name, p.toType(precision.type(), false));
            p.close();
        }
    }

    private void requireFp32(String what) {
        if (params.values().stream().anyMatch(p -> p.getDataType() != DataType.FLOAT32)) {
            throw new IllegalStateException("a base held in half precision carries adapters; it is not " + what);
        }
    }

    /** The parameter {@code name} in fp32, widened for this use if held in half precision (null if absent). */
    private NDArray weight(String name, NDArray input) {
        NDArray p = params.get(name);
        if (p == null || p.getDataType() == DataType.FLOAT32) {
            return p;
        }
        // The widened copy lives as the forward's other intermediates do, in the input's manager.
        NDArray wide = p.toType(DataType.FLOAT32, false);
        wide.attach(input.getManager());
        return wide;
    }

    // ------------------------------------------------------------------ forward

    /**
     * Runs the decoder over {@code ids} [B, T] at absolute {@code positions} [B, T] (int64).
     *
     * @param keyMask [B, past + T], 1 where a key position holds a real token, 0 for padding; null when
     *     every position is real
     * @param cache keys and values of earlier positions, extended in place; null for a full sequence
     * @param training applies residual dropout
     * @return the final hidden states [B, T, D] after the last norm, before the unembedding
     */
    public NDArray hidden(NDArray ids, NDArray positions, NDArray keyMask, KvCache cache, boolean training) {
        NDManager m = ids.getManager();
        long b = ids.getShape().get(0);
        long t = ids.getShape().get(1);
        long past = cache == null ? 0 : cache.length();
        long total = past + t;
        boolean llama = config.family().rotary();
        float dropout = training ? (float) config.residDropout() : 0f;

        NDArray x = llama
                ? Ops.embed(ids, params.get("model.embed_tokens.weight")).toType(DataType.FLOAT32, false)
                : Ops.embed(ids, params.get("transformer.wte.weight"))
                        .add(Ops.embed(positions, params.get("transformer.wpe.weight")));
        x = Ops.dropout(x, dropout);

        // allowed[b, 0, i, j]: query i (absolute past + i) sees key j if j <= past + i and j is real.
        NDArray qIndex = m.arange(past, total, 1, DataType.INT64).reshape(t, 1);
        NDArray kIndex = m.arange(0, total, 1, DataType.INT64).reshape(1, total);
        NDArray allowed = kIndex.lte(qIndex).reshape(1, 1, t, total);
        if (keyMask != null) {
            allowed = allowed.logicalAnd(keyMask.toType(DataType.BOOLEAN, false).reshape(b, 1, 1, total));
        }
        NDArray attnBias = allowed.logicalNot().toType(DataType.FLOAT32, false).mul(MASKED);

        NDArray[] rope = llama ? Ops.rotaryCosSin(positions, config.inverseFrequencies()) : null;
        for (int layer = 0; layer < config.numLayers(); layer++) {
            NDArray in = x;
            int l = layer;
            x = cache != null
                    ? llama
                            ? llamaBlock(in, l, rope, attnBias, cache, dropout, training)
                            : gpt2Block(in, l, attnBias, cache, dropout)
                    : Owned.keepingOnlyTheResult(() -> llama
                            ? llamaBlock(in, l, rope, attnBias, null, dropout, training)
                            : gpt2Block(in, l, attnBias, null, dropout));
        }
        return llama
                ? rmsNorm(x, params.get("model.norm.weight"))
                : layerNorm(x, params.get("transformer.ln_f.weight"), params.get("transformer.ln_f.bias"));
    }

    /** Projects hidden states [.., D] to vocabulary logits [.., V]. */
    public NDArray logits(NDArray hidden) {
        NDArray unembed = weight("lm_head.weight", hidden);
        if (unembed == null) {
            unembed = weight(config.family().rotary() ? "model.embed_tokens.weight" : "transformer.wte.weight", hidden);
        }
        return Ops.linear(hidden, unembed, null);
    }

    /** {@link #hidden} followed by {@link #logits}: [B, T, V]. */
    public NDArray forward(NDArray ids, NDArray positions, NDArray keyMask, KvCache cache, boolean training) {
        return logits(hidden(ids, positions, keyMask, cache, training));
    }

    /** A cache sized for this model, owned by the caller. */
    public KvCache newCache(NDManager parent) {
        return new KvCache(parent, config.numLayers());
    }

    private NDArray llamaBlock(
            NDArray x, int layer, NDArray[] rope, NDArray attnBias, KvCache cache, float dropout, boolean training) {
        String p = "model.layers." + layer + ".";
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();

        NDArray h = rmsNorm(x, params.get(p + "input_layernorm.weight"));
        NDArray q = projectHeads(h, p + "self_attn.q_proj", p + "self_attn.q_norm.weight", heads, training);
        NDArray k = projectHeads(h, p + "self_attn.k_proj", p + "self_attn.k_norm.weight", kvHeads, training);
        NDArray v = projectHeads(h, p + "self_attn.v_proj", null, kvHeads, training);
        q = Ops.applyRotary(q, rope[0], rope[1]);
        k = Ops.applyRotary(k, rope[0], rope[1]);
        if (cache != null) {
            NDArray[] kv = cache.append(layer, k, v);
            k = kv[0];
            v = kv[1];
        }
        NDArray attn = Ops.attention(q, k, v, attnBias, heads / kvHeads);
        x = x.add(Ops.dropout(project(attn, p + "self_attn.o_proj", training), dropout));

        h = rmsNorm(x, params.get(p + "post_attention_layernorm.weight"));
        NDArray gate = project(h, p + "mlp.gate_proj", training);
        NDArray up = project(h, p + "mlp.up_proj", training);
        NDArray mlp = project(gate.mul(Activation.sigmoid(gate)).mul(up), p + "mlp.down_proj", training);
        return x.add(Ops.dropout(mlp, dropout));
    }

    /**
     * A projection to {@code n} heads [B, n, T, hd], with its bias (Qwen2) and per-head RMSNorm (Qwen3)
     * where the checkpoint has them.
     */
    private NDArray projectHeads(NDArray h, String proj, String norm, int n, boolean training) {
        long b = h.getShape().get(0);
        long t = h.getShape().get(1);
        NDArray x = project(h, proj, training).reshape(b, t, n, config.headDim());
        if (norm != null && params.containsKey(norm)) {
            x = rmsNorm(x, params.get(norm));
        }
        return x.transpose(0, 2, 1, 3);
    }

    /** A Llama-family projection (its bias where the checkpoint has one) plus the adapter's update. */
    private NDArray project(NDArray x, String module, boolean training) {
        NDArray y = Ops.linear(x, weight(module + ".weight", x), params.get(module + ".bias"));
        NDArray delta = adapter == null ? null : adapter.delta(x, module, training);
        return delta == null ? y : y.add(delta);
    }

    private NDArray gpt2Block(NDArray x, int layer, NDArray attnBias, KvCache cache, float dropout) {
        String p = "transformer.h." + layer + ".";
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int heads = config.numHeads();
        int hd = config.headDim();
        long d = config.hiddenSize();

        NDArray h = layerNorm(x, params.get(p + "ln_1.weight"), params.get(p + "ln_1.bias"));
        NDArray qkv = h.matMul(params.get(p + "attn.c_attn.weight")).add(params.get(p + "attn.c_attn.bias"));
        NDArray q =
                qkv.get(new NDIndex("..., 0:{}", d)).reshape(b, t, heads, hd).transpose(0, 2, 1, 3);
        NDArray k = qkv.get(new NDIndex("..., {}:{}", d, 2 * d))
                .reshape(b, t, heads, hd)
                .transpose(0, 2, 1, 3);
        NDArray v =
                qkv.get(new NDIndex("..., {}:", 2 * d)).reshape(b, t, heads, hd).transpose(0, 2, 1, 3);
        if (cache != null) {
            NDArray[] kv = cache.append(layer, k, v);
            k = kv[0];
            v = kv[1];
        }
        NDArray attn = Ops.attention(q, k, v, attnBias, 1);
        NDArray proj = attn.matMul(params.get(p + "attn.c_proj.weight")).add(params.get(p + "attn.c_proj.bias"));
        x = x.add(Ops.dropout(proj, dropout));

        h = layerNorm(x, params.get(p + "ln_2.weight"), params.get(p + "ln_2.bias"));
        NDArray fc = h.matMul(params.get(p + "mlp.c_fc.weight")).add(params.get(p + "mlp.c_fc.bias"));
        NDArray mlp =
                Ops.geluTanh(fc).matMul(params.get(p + "mlp.c_proj.weight")).add(params.get(p + "mlp.c_proj.bias"));
        return x.add(Ops.dropout(mlp, dropout));
    }

    private NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray rms =
                x.square().mean(new int[] {-1}, true).add(config.normEps()).sqrt();
        return x.div(rms).mul(weight);
    }

    private NDArray layerNorm(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal()
                .layerNorm(x, new Shape(config.hiddenSize()), weight, bias, (float) config.normEps())
                .singletonOrThrow();
    }

    @Override
    public void close() {
        if (owner) {
            manager.close();
        }
    }
}
