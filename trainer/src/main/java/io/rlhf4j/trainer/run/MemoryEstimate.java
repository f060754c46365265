package io.rlhf4j.trainer.run;

import io.rlhf4j.core.checkpoint.TensorLayout;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.io.ProcMemory;
import io.rlhf4j.trainer.model.LoraConfig;
import io.rlhf4j.trainer.model.Precision;
import io.rlhf4j.trainer.model.PretrainingMix;
import java.util.Map;

/**
 * What a training stage will hold in memory, worked out from the model's shape and the stage's batch
 * before anything is loaded, so that a run that cannot fit is refused with the figures instead of being
 * killed an hour in. In the engine's memory, all fp32: model copies, adapters and heads; one gradient
 * and AdamW's two moments per trained value; autograd's saved activations for one batch. In the JVM's
 * heap: a checkpoint read before it is copied to the engine, and what a checkpoint save copies out
 * (the saved models and the optimizer's moments), which the heap holds at most up to its maximum
 * (-Xmx): a save that needs more cannot succeed and is refused too. {@code bench --suite pipeline}
 * prints the estimate beside the measured peak resident memory.
 *
 * @param weights model copies (frozen and trained), bytes
 * @param trainedValues how many values the optimizer steps (whole models, or adapters and heads)
 * @param activations the batch's saved activations, bytes
 * @param heap the Java copies of loading and of a checkpoint save, bytes
 * @param maxHeap the JVM's maximum heap, bytes
 */
public record MemoryEstimate(
        String stage, long weights, long trainedValues, long activations, long heap, long maxHeap) {

    /** A gradient and AdamW's first and second moments per trained value. */
    static final int OPTIMIZER_FLOATS = 3;

    /**
     * Per token and layer, the fp32 values a Llama-family block keeps for backward: normed inputs and
     * residuals, q, k, v before and after rotation, the attention output, the MLP's gate, up and product
     * (counted in units of the hidden width D and the MLP width F), plus the attention probabilities.
     */
    private static final int PER_LAYER_D = 16;

    private static final int PER_LAYER_F = 5;

    public long optimizer() {
        return trainedValues * Float.BYTES * OPTIMIZER_FLOATS;
    }

    /** What the engine holds: weights, gradients and moments, activations. */
    public long engine() {
        return weights + optimizer() + activations;
    }

    /** The engine's memory and the heap's, which grows at most to its maximum. */
    public long total() {
        return engine() + Math.min(heap, maxHeap);
    }

    /** One line for the log: each term and the total, in GiB. */
    public String describe() {
        return String.format(
                "%s memory estimate: weights %s, trained values %,d (gradients and AdamW moments %s), activations %s,"
                        + " JVM heap %s (of at most %s): %s",
                stage,
                gib(weights),
                trainedValues,
                gib(optimizer()),
                gib(activations),
                gib(heap),
                gib(maxHeap),
                gib(total()));
    }

    /** Throws, with this estimate, when it exceeds what the machine has available now. */
    public MemoryEstimate require() {
        return require(ProcMemory.availableBytes());
    }

    /** As {@link #require()} against {@code available} bytes (0: unknown, never refuses). */
    public MemoryEstimate require(long available) {
        if (heap > maxHeap) {
            throw new TooLarge(
                    this,
                    "a checkpoint's " + gib(heap) + " of copies exceed the JVM's " + gib(maxHeap) + " heap",
                    "raise -Xmx through RLHF4J_JAVA_OPTS if the machine has the memory, or use LoRA (--lora-rank 16)");
        }
        if (available > 0 && total() > available) {
            throw new TooLarge(
                    this,
                    "more than the " + gib(available) + " this machine has available",
                    "use LoRA (--lora-rank 16), a smaller batch or a larger machine");
        }
        return this;
    }

    /** A run refused before it started: its estimate exceeds what the machine has available. */
    public static final class TooLarge extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        private final transient MemoryEstimate estimate;
        private final String reason;

        TooLarge(MemoryEstimate estimate, String reason, String advice) {
            super(estimate.describe() + ": " + reason + "; " + advice);
            this.estimate = estimate;
            this.reason = reason;
        }

        public MemoryEstimate estimate() {
            return estimate;
        }

        /** Why it cannot fit, without the figures or the advice. */
        public String reason() {
            return reason;
        }
    }

    public static Builder of(String stage, ModelConfig config) {
        return new Builder(stage, config);
    }

    /** Counts a stage's models, what trains and its batch. */
    public static final class Builder {
        private final String stage;
        private final ModelConfig config;
        private long weights;
        private long trained;
        private long activations;
        private int saved;

        private Builder(String stage, ModelConfig config) {
            this.stage = stage;
            this.config = config;
        }

        /** {@code copies} of the model that do not train (references, frozen bases, reward models). */
        public Builder frozen(int copies) {
            return frozen(copies, Precision.FP32);
        }

        /** {@code copies} of the model held in {@code precision} (a LoRA base; norms count as matrices). */
        public Builder frozen(int copies, Precision precision) {
            weights += copies * config.parameterCount() * precision.bytes();
            return this;
        }

        /**
         * {@code backwards} passes through a base held in {@code precision}: below fp32, autograd keeps the
         * widened fp32 copy of every matrix a pass used until its backward ends.
         */
        public Builder widened(int backwards, Precision precision) {
            if (precision != Precision.FP32) {
                activations += backwards * config.parameterCount() * Float.BYTES;
            }
            return this;
        }

        /** {@code copies} of the model trained in full. */
        public Builder trained(int copies) {
            weights += copies * config.parameterCount() * Float.BYTES;
            trained += copies * config.parameterCount();
            return this;
        }

        /**
         * The stage's trained model: in full ({@code lora} null: every weight trained, {@code saves}
         * copies written per checkpoint), or a frozen copy carrying an adapter and {@code heads} scalar
         * heads, saved merged (two copies).
         */
        public Builder trained(LoraConfig lora, int heads, int saves) {
            return lora == null
                    ? trained(1).saves(saves)
                    : frozen(1, lora.basePrecision())
                            .widened(1, lora.basePrecision())
                            .adapters(lora, 1, heads)
                            .saves(2);
        }

        /** {@code count} LoRA adapters of {@code lora} and {@code heads} scalar heads, all trained. */
        public Builder adapters(LoraConfig lora, int count, int heads) {
            long values = count * adapterValues(config, lora) + (long) heads * (config.hiddenSize() + 1);
            weights += values * Float.BYTES;
            trained += values;
            return this;
        }

        /**
         * A batch of {@code rows} sequences of {@code length} tokens going through backward, with the
         * vocabulary's logits when {@code logits} (a policy) or without (a reward model or critic).
         */
        public Builder activations(long rows, int length, boolean logits) {
            long tokens = rows * length;
            long perLayer = (long) PER_LAYER_D * config.hiddenSize()
                    + (long) PER_LAYER_F * config.intermediateSize()
                    + 2L * config.numHeads() * length;
            long perToken = perLayer * config.numLayers() + (logits ? 3L * config.vocabSize() : 0);
            activations += tokens * perToken * Float.BYTES;
            return this;
        }

        /** The pretraining term's windows, which go through the policy's backward too (nothing when null). */
        public Builder pretrainingMix(PretrainingMix mix) {
            return mix == null ? this : activations(mix.batchSize(), PretrainingMix.window(config), true);
        }

        /**
         * {@code copies} of the model's size that a checkpoint save makes in the heap: each saved model (a
         * merged LoRA model counts two, its tensors and their merge), and SFT's best weights.
         */
        public Builder saves(int copies) {
            saved += copies;
            return this;
        }

        public MemoryEstimate build() {
            long modelBytes = config.parameterCount() * Float.BYTES;
            // a checkpoint read, the saved models, and the optimizer's two moments copied out
            long heap = modelBytes * (1 + saved) + trained * Float.BYTES * 2;
            return new MemoryEstimate(
                    stage,
                    weights,
                    trained,
                    activations,
                    heap,
                    Runtime.getRuntime().maxMemory());
        }
    }

    /** The values of one adapter on {@code config}: r (in + out) per adapted projection of each layer. */
    public static long adapterValues(ModelConfig config, LoraConfig lora) {
        Map<String, long[]> shapes = TensorLayout.shapes(config);
        long values = 0;
        for (int layer = 0; layer < config.numLayers(); layer++) {
            for (String target : lora.targets()) {
                long[] shape = shapes.get("model.layers." + layer + "." + LoraConfig.MODULES.get(target) + ".weight");
                if (shape == null) {
                    throw new IllegalArgumentException(
                            "LoRA target " + target + " is not a projection of this " + config.family() + " model");
                }
                values += (long) lora.rank() * (shape[0] + shape[1]);
            }
        }
        return values;
    }

    private static String gib(long bytes) {
        return String.format("%.2f GiB", bytes / (double) (1L << 30));
    }
}
