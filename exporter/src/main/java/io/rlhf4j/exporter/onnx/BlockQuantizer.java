package io.rlhf4j.exporter.onnx;

/**
 * Symmetric block quantization of a weight matrix into the layout of ONNX Runtime's {@code
 * MatMulNBits}: for each output row n and each block of {@code block} inputs along K, one fp32 scale
 * and {@code bits}-bit codes with the operator's default zero point 2^(bits-1), so a weight is {@code
 * (code - 2^(bits-1)) * scale}. The scale is llama.cpp's q4_0/q8_0 choice: the block's value of largest
 * magnitude maps to the most negative code at 4 bits ({@code d = max / -8}) and to ±127 at 8 bits, so
 * the same weights quantize to the same grid in both engines (scales in fp32 here, fp16 there).
 *
 * <p>Codes are packed along K within each block, the first value in the low bits of a byte (the
 * operator's spec); a last block shorter than {@code block} is padded with zeros.
 */
public final class BlockQuantizer {

    /**
     * @param codes [n, blocks, block * bits / 8] packed codes
     * @param scales [n, blocks]
     */
    public record Quantized(int n, int k, int bits, int block, byte[] codes, float[] scales) {
        public int blocks() {
            return (k + block - 1) / block;
        }

        public int blobSize() {
            return block * bits / 8;
        }
    }

    private BlockQuantizer() {}

    /** Quantizes {@code w}, [n, k] row-major (one output per row, as HF stores a Linear's weight). */
    public static Quantized quantize(float[] w, int n, int k, int bits, int block) {
        if (bits != 4 && bits != 8) {
            throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        }
        requireBlock(block);
        if (w.length != (long) n * k) {
            throw new IllegalArgumentException("weight has " + w.length + " values, not " + n + " x " + k);
        }
        int blocks = (k + block - 1) / block;
        int blob = block * bits / 8;
        int zero = 1 << (bits - 1);
        int maxCode = (1 << bits) - 1;
        byte[] codes = new byte[n * blocks * blob];
        float[] scales = new float[n * blocks];
        for (int row = 0; row < n; row++) {
            for (int b = 0; b < blocks; b++) {
                int from = row * k + b * block;
                int len = Math.min(block, k - b * block);
                float extreme = 0;
                for (int i = 0; i < len; i++) {
                    if (Math.abs(w[from + i]) > Math.abs(extreme)) {
                        extreme = w[from + i];
                    }
                }
                float scale = bits == 4 ? extreme / -8f : Math.abs(extreme) / 127f;
                scales[row * blocks + b] = scale;
                float inverse = scale == 0 ? 0 : 1 / scale;
                int base = (row * blocks + b) * blob;
                for (int i = 0; i < block; i++) {
                    float v = i < len ? w[from + i] : 0;
                    int code = Math.max(0, Math.min(maxCode, Math.round(v * inverse) + zero));
                    if (bits == 8) {
                        codes[base + i] = (byte) code;
                    } else {
                        codes[base + i / 2] |= (byte) (i % 2 == 0 ? code : code << 4);
                    }
                }
            }
        }
        return new Quantized(n, k, bits, block, codes, scales);
    }

    /** MatMulNBits' rule for {@code block_size}: a power of two, at least 16. */
    static void requireBlock(int block) {
        if (block < 16 || Integer.bitCount(block) != 1) {
            throw new IllegalArgumentException("block size must be a power of two >= 16, got " + block);
        }
    }

    /** The weights {@code q} stands for, [n, k]: what the operator multiplies by. */
    public static float[] dequantize(Quantized q) {
        float[] w = new float[q.n() * q.k()];
        int zero = 1 << (q.bits() - 1);
        for (int row = 0; row < q.n(); row++) {
            for (int i = 0; i < q.k(); i++) {
                int b = i / q.block();
                int within = i % q.block();
                int base = (row * q.blocks() + b) * q.blobSize();
                int code = q.bits() == 8
                        ? q.codes()[base + within] & 0xff
                        : (q.codes()[base + within / 2] >> (within % 2 == 0 ? 0 : 4)) & 0xf;
                w[row * q.k() + i] = (code - zero) * q.scales()[row * q.blocks() + b];
            }
        }
        return w;
    }
}
