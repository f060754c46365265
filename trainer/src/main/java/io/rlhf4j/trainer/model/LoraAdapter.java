package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * LoRA's low-rank update of a frozen decoder's projections: each adapted {@code W} [out, in] gains
 * {@code (alpha / r) * B A} with {@code A} [r, in] and {@code B} [out, r]. {@code B} starts at zero, so
 * an attached fresh adapter changes nothing until it trains. Tensors are named as PEFT saves them
 * ({@code base_model.model.<module>.lora_A.weight}). Owns its arrays.
 */
public final class LoraAdapter implements AutoCloseable {

    public static final String PREFIX = "base_model.model.";

    private final LoraConfig config;
    private final NDManager manager;
    /** Module path (e.g. {@code model.layers.0.self_attn.q_proj}) to {A, B}. */
    private final Map<String, NDArray[]> weights;

    private LoraAdapter(LoraConfig config, NDManager manager, Map<String, NDArray[]> weights) {
        this.config = config;
        this.manager = manager;
        this.weights = weights;
    }

    public LoraConfig config() {
        return config;
    }

    /**
     * A fresh adapter for {@code base}: {@code A} as PEFT initialises it (Kaiming-uniform with a = sqrt(5),
     * i.e. uniform in +-1/sqrt(in)), seeded; {@code B} zero.
     */
    public static LoraAdapter initialise(LoraConfig config, Decoder base, long seed, NDManager parent) {
        requireLlamaFamily(base);
        NDManager m = parent.newSubManager();
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, NDArray[]> w = new LinkedHashMap<>();
        for (String module : modules(config, base)) {
            long[] shape = base.parameters().get(module + ".weight").getShape().getShape();
            int out = (int) shape[0];
            int in = (int) shape[1];
            float[] a = new float[config.rank() * in];
            double bound = 1 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            w.put(module, new NDArray[] {
                Owned.copy(m.create(a, new Shape(config.rank(), in))), m.zeros(new Shape(out, config.rank()))
            });
        }
        return new LoraAdapter(config, m, w);
    }

    /** An adapter from PEFT-named tensors, checked against {@code base}'s projections. */
    public static LoraAdapter fromTensors(
            LoraConfig config, Map<String, Tensor> tensors, Decoder base, NDManager parent) {
        requireLlamaFamily(base);
        List<String> modules = modules(config, base);
        for (String name : tensors.keySet()) {
            if (!name.startsWith(PREFIX) || !(name.endsWith(".lora_A.weight") || name.endsWith(".lora_B.weight"))) {
                throw new CheckpointFormatException("'" + name + "' is not a LoRA tensor of this adapter");
            }
            String module = name.substring(PREFIX.length(), name.length() - ".lora_A.weight".length());
            if (!modules.contains(module)) {
                throw new CheckpointFormatException(
                        "'" + name + "' adapts " + module + ", which the base model or target_modules does not have");
            }
        }
        NDManager m = parent.newSubManager();
        Map<String, NDArray[]> w = new LinkedHashMap<>();
        try {
            for (String module : modules) {
                long[] shape =
                        base.parameters().get(module + ".weight").getShape().getShape();
                NDArray a = load(m, tensors, PREFIX + module + ".lora_A.weight", config.rank(), shape[1]);
                NDArray b = load(m, tensors, PREFIX + module + ".lora_B.weight", shape[0], config.rank());
                w.put(module, new NDArray[] {a, b});
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return new LoraAdapter(config, m, w);
    }

    private static NDArray load(NDManager m, Map<String, Tensor> tensors, String name, long rows, long cols) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new CheckpointFormatException("tensor '" + name + "' is missing");
        }
        if (t.shape().length != 2 || t.shape()[0] != rows || t.shape()[1] != cols) {
            throw new CheckpointFormatException("'" + name + "' has shape " + java.util.Arrays.toString(t.shape())
                    + ", expected [" + rows + ", " + cols + "] for rank and base model");
        }
        return Owned.copy(m.create(t.data(), new Shape(rows, cols)));
    }

    /** The adapted modules of {@code base}, layer by layer in the config's target order. */
    private static List<String> modules(LoraConfig config, Decoder base) {
        List<String> out = new ArrayList<>();
        for (int layer = 0; layer < base.config().numLayers(); layer++) {
            for (String t : config.targets()) {
                out.add("model.layers." + layer + "." + LoraConfig.MODULES.get(t));
            }
        }
        return out;
    }

    private static void requireLlamaFamily(Decoder base) {
        if (!base.config().family().rotary()) {
            throw new IllegalArgumentException("LoRA adapts the Llama-family projections (q_proj ... down_proj); "
                    + base.config().family() + " models are fine-tuned in full (--lora-rank 0)");
        }
    }

    /**
     * The update of {@code module}'s output for input {@code x}, or null when the module is not
     * adapted; dropout on the adapter's input only while training, as PEFT.
     */
    NDArray delta(NDArray x, String module, boolean training) {
        NDArray[] ab = weights.get(module);
        if (ab == null) {
            return null;
        }
        NDArray in = training && config.dropout() > 0
                ? x.getNDArrayInternal()
                        .dropout(x, (float) config.dropout(), true)
                        .singletonOrThrow()
                : x;
        NDArray down = in.getNDArrayInternal().linear(in, ab[0], null).singletonOrThrow();
        return down.getNDArrayInternal()
                .linear(down, ab[1], null)
                .singletonOrThrow()
                .mul(Owned.scalar(down, config.scale()));
    }

    /** The trainable arrays by PEFT name. */
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        weights.forEach((module, ab) -> {
            out.put(PREFIX + module + ".lora_A.weight", ab[0]);
            out.put(PREFIX + module + ".lora_B.weight", ab[1]);
        });
        return out;
    }

    /** Overwrites the adapter's arrays in place from PEFT-named tensors (resuming, keeping the best). */
    public void load(Map<String, Tensor> tensors) {
        parameters().forEach((name, a) -> {
            Tensor t = tensors.get(name);
            if (t == null) {
                throw new CheckpointFormatException("tensor '" + name + "' is missing");
            }
            Owned.overwrite(a, t.data());
        });
    }

    public void requireGradients() {
        parameters().values().forEach(p -> p.setRequiresGradient(true));
    }

    /** The adapter as PEFT-named checkpoint tensors. */
    public List<Tensor> toTensors() {
        List<Tensor> out = new ArrayList<>();
        parameters().forEach((name, a) -> out.add(new Tensor(name, a.getShape().getShape(), a.toFloatArray())));
        return out;
    }

    /** {@code base}'s tensors with every adapted weight replaced by {@code W + (alpha / r) B A}. */
    public List<Tensor> merge(List<Tensor> base) {
        List<Tensor> out = new ArrayList<>(base.size());
        for (Tensor t : base) {
            String module = t.name().endsWith(".weight")
                    ? t.name().substring(0, t.name().length() - 7)
                    : t.name();
            NDArray[] ab = weights.get(module);
            if (ab == null) {
                out.add(t);
                continue;
            }
            try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray w = Owned.copy(manager.create(t.data(), new Shape(t.shape())));
                NDArray merged =
                        ab[1].matMul(ab[0]).mul(Owned.scalar(w, config.scale())).add(w);
                out.add(new Tensor(t.name(), t.shape(), merged.toFloatArray()));
            }
        }
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
