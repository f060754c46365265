package io.rlhf4j.trainer.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter's shape (Hu et al. 2021, as PEFT configures it): rank {@code r}, {@code alpha} (the
 * update is scaled by {@code alpha / r}), dropout on the adapter's input while training, and the
 * projections it adapts, by HF module name ({@code q_proj} ... {@code down_proj}; {@code q} ...
 * {@code down} are accepted for them), and the {@link Precision} the frozen base is held in (not part of
 * PEFT's config: it is how this run holds the base, not what the adapter is).
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targets, Precision basePrecision) {

    /** Short name to HF module path inside a layer, for the Llama family. */
    public static final Map<String, String> MODULES = modules();

    public LoraConfig {
        if (rank < 1) {
            throw new IllegalArgumentException(
                    "LoRA needs rank >= 1, got " + rank + " (rank 0 means full fine-tuning)");
        }
        if (!(alpha > 0) || !(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(
                    "LoRA needs alpha > 0 and 0 <= dropout < 1, got " + alpha + " and " + dropout);
        }
        List<String> normalised = new ArrayList<>();
        for (String t : targets) {
            String name = t.strip().endsWith("_proj") ? t.strip() : t.strip() + "_proj";
            if (!MODULES.containsKey(name)) {
                throw new IllegalArgumentException(
                        "no LoRA target module '" + t + "' (known: " + String.join(", ", MODULES.keySet()) + ")");
            }
            if (!normalised.contains(name)) {
                normalised.add(name);
            }
        }
        if (normalised.isEmpty()) {
            throw new IllegalArgumentException("LoRA needs at least one target module");
        }
        targets = List.copyOf(normalised);
        basePrecision = basePrecision == null ? Precision.FP32 : basePrecision;
    }

    /** An adapter on a base held in fp32. */
    public LoraConfig(int rank, double alpha, double dropout, List<String> targets) {
        this(rank, alpha, dropout, targets, Precision.FP32);
    }

    /** These settings with the base held in {@code precision}. */
    public LoraConfig withBasePrecision(Precision precision) {
        return new LoraConfig(rank, alpha, dropout, targets, precision);
    }

    /** Every projection, as QLoRA and OpenRLHF's defaults adapt them. */
    public static LoraConfig of(int rank, double alpha) {
        return new LoraConfig(rank, alpha, 0.0, List.copyOf(MODULES.keySet()));
    }

    /** What multiplies {@code B A x}. */
    public double scale() {
        return alpha / rank;
    }

    private static Map<String, String> modules() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String s : List.of("q", "k", "v", "o")) {
            m.put(s + "_proj", "self_attn." + s + "_proj");
        }
        for (String s : List.of("gate", "up", "down")) {
            m.put(s + "_proj", "mlp." + s + "_proj");
        }
        return Collections.unmodifiableMap(m);
    }
}
