package io.rlhf4j.core.checkpoint;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The precision of a policy graph's weights: the variants one export directory (a registry version)
 * can hold side by side. The exporter writes each variant's file and serving's config picks which one
 * it loads, so both read the file name from here.
 */
public enum WeightFormat {
    FP32("fp32", 32, Layout.POLICY),
    /** 8-bit blocks (ONNX Runtime's MatMulNBits), llama.cpp's q8_0 in layout. */
    INT8("int8", 8, "policy.int8.onnx"),
    /** 4-bit blocks (MatMulNBits), llama.cpp's q4_0 in layout. */
    INT4("int4", 4, "policy.int4.onnx");

    private final String id;
    private final int bits;
    private final String policyFile;

    WeightFormat(String id, int bits, String policyFile) {
        this.id = id;
        this.bits = bits;
        this.policyFile = policyFile;
    }

    @com.fasterxml.jackson.annotation.JsonValue
    public String id() {
        return id;
    }

    public int bits() {
        return bits;
    }

    public String policyFile() {
        return policyFile;
    }

    public boolean quantized() {
        return this != FP32;
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    public static WeightFormat parse(String s) {
        for (WeightFormat f : values()) {
            if (f.id.equals(s.strip().toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException("weights must be one of "
                + Arrays.stream(values()).map(WeightFormat::id).collect(Collectors.joining(", ")) + ", got '" + s
                + "'");
    }

    @Override
    public String toString() {
        return id;
    }
}
