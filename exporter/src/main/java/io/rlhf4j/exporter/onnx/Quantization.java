package io.rlhf4j.exporter.onnx;

import io.rlhf4j.core.checkpoint.WeightFormat;

/**
 * How a policy graph's projections are quantized: {@code format}'s bits in blocks of {@code block}
 * inputs, and the {@code accuracy_level} ONNX Runtime may compute at (4: the activations quantized to
 * int8 per block, so the product runs on int8 dot-product instructions). With {@code unembedding} the
 * tied or separate output projection is quantized too, at 8 bits under int4 (as the GGUF q4_0 export
 * keeps it at q8_0, and llama.cpp's own quantizer at 6 bits or more: logits are where 4 bits hurt
 * most); the embedding lookup always stays fp32.
 */
public record Quantization(WeightFormat format, int block, int accuracyLevel, boolean unembedding) {

    public Quantization {
        if (!format.quantized()) {
            throw new IllegalArgumentException("a quantization needs int8 or int4, not " + format);
        }
        BlockQuantizer.requireBlock(block);
        if (accuracyLevel < 0 || accuracyLevel > 4) {
            throw new IllegalArgumentException("accuracy level must be 0 to 4, got " + accuracyLevel);
        }
    }

    public int unembeddingBits() {
        return Math.max(8, format.bits());
    }
}
