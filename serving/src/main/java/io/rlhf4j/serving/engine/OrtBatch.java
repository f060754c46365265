package io.rlhf4j.serving.engine;

import ai.onnxruntime.OnnxTensor;

/** Right-aligned caches: row r holds {@code real[r]} positions at the end of {@code width}. */
final class OrtBatch implements PolicyEngine.Batch {
    final int rows;
    final int width;
    final int[] real;
    final OnnxTensor[] keys;
    final OnnxTensor[] values;
    final AutoCloseable owner;
    boolean closed;

    OrtBatch(int rows, int width, int[] real, OnnxTensor[] keys, OnnxTensor[] values, AutoCloseable owner) {
        this.rows = rows;
        this.width = width;
        this.real = real;
        this.keys = keys;
        this.values = values;
        this.owner = owner;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (owner != null) {
                owner.close();
            } else {
                for (int l = 0; l < keys.length; l++) {
                    keys[l].close();
                    values[l].close();
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
