package io.rlhf4j.exporter.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The ggml tensor types this writer produces, with their ids and block layouts as ggml defines them
 * ({@code ggml.h}, {@code ggml-common.h}), and encoders that follow ggml's reference quantizers
 * ({@code quantize_row_q8_0_ref}, {@code quantize_row_q4_0_ref}) so that a row quantized here is the
 * row llama.cpp's own tools would write.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    /** Blocks of 32: an fp16 scale {@code d = max / -8} and 16 bytes of 4-bit values {@code q = x/d + 8}. */
    Q4_0(2, 32, 18),
    /** Blocks of 32: an fp16 scale {@code d = amax / 127} and 32 signed bytes {@code q = round(x/d)}. */
    Q8_0(8, 32, 34);

    private final int id;
    private final int blockSize;
    private final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int id() {
        return id;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Bytes of {@code n} values, {@code n} a multiple of the block size. */
    public long bytes(long n) {
        return n / blockSize * blockBytes;
    }

    /** Encodes {@code data} (row-major, rows of a multiple of the block size) little-endian. */
    public byte[] encode(float[] data) {
        if (data.length % blockSize != 0) {
            throw new IllegalArgumentException(
                    name() + " needs a multiple of " + blockSize + " values, got " + data.length);
        }
        ByteBuffer out = ByteBuffer.allocate((int) bytes(data.length)).order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> out.asFloatBuffer().put(data);
            case F16 -> {
                for (float v : data) {
                    out.putShort(toHalf(v));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < data.length; b += 32) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) {
                        amax = Math.max(amax, Math.abs(data[b + j]));
                    }
                    float d = amax / 127;
                    float id = d != 0 ? 1.0f / d : 0.0f;
                    out.putShort(toHalf(d));
                    for (int j = 0; j < 32; j++) {
                        out.put((byte) roundHalfAway(data[b + j] * id));
                    }
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < data.length; b += 32) {
                    float amax = 0;
                    float max = 0;
                    for (int j = 0; j < 32; j++) {
                        float v = data[b + j];
                        if (amax < Math.abs(v)) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8;
                    float id = d != 0 ? 1.0f / d : 0.0f;
                    out.putShort(toHalf(d));
                    // Element j in the low nibble of byte j, element j + 16 in its high nibble.
                    for (int j = 0; j < 16; j++) {
                        int lo = Math.min(15, (int) (byte) (int) (data[b + j] * id + 8.5f));
                        int hi = Math.min(15, (int) (byte) (int) (data[b + 16 + j] * id + 8.5f));
                        out.put((byte) (lo | (hi << 4)));
                    }
                }
            }
        }
        return out.array();
    }

    /** C's roundf: halves away from zero (Math.round rounds them up). */
    private static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs(v) + 0.5f), v);
    }

    /** IEEE half precision, rounding to nearest even, as ggml's GGML_FP32_TO_FP16. */
    static short toHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs >= 0x7f800000) {
            return (short) (sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
        }
        if (abs >= 0x477ff000) { // 65520 and above round to infinity
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below 2^-14: a subnormal half, in units of 2^-24
            return (short) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24f));
        }
        int h = ((((abs >>> 23) - 127 + 15) << 10) | ((abs & 0x7fffff) >>> 13));
        int rest = abs & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) {
            h++; // a carry out of the mantissa correctly bumps the exponent
        }
        return (short) (sign | h);
    }
}
