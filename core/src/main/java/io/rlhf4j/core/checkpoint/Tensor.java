package io.rlhf4j.core.checkpoint;

import java.util.Arrays;

/**
 * A named fp32 tensor in row-major order: the unit of checkpoint I/O between modules that do not
 * share an engine (the trainer's DJL arrays, the exporter's ONNX initializers).
 */
public record Tensor(String name, long[] shape, float[] data) {

    public Tensor {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("tensor " + name + ": shape " + Arrays.toString(shape) + " needs " + n
                    + " values, got " + data.length);
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
