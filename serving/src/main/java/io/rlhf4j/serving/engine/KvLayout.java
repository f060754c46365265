package io.rlhf4j.serving.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import java.nio.FloatBuffer;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@link OrtBatch} caches are laid out and re-laid: right-aligned rows of [rows, kvHeads, width,
 * headDim] per layer. A change of membership (rows joining or leaving) copies the kept rows into a new
 * layout no wider than its longest row; a prefix from the {@link PrefixCache} becomes a one-row batch.
 */
final class KvLayout {

    private final OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
    private final int layers;
    private final int kvHeads;
    private final int headDim;

    KvLayout(int layers, int kvHeads, int headDim) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
    }

    /** {@code rows} rows with empty caches: a prefill's past. */
    OrtBatch empty(int rows) {
        try {
            OnnxTensor[] k = new OnnxTensor[layers];
            OnnxTensor[] v = new OnnxTensor[layers];
            long[] shape = {rows, kvHeads, 0, headDim};
            for (int l = 0; l < layers; l++) {
                k[l] = OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape);
                v[l] = OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape);
            }
            return new OrtBatch(rows, 0, new int[rows], k, v, null);
        } catch (OrtException e) {
            throw new OrtEngine.EngineException(e.getMessage(), e);
        }
    }

    /** A one-row batch whose cache is {@code chain}'s blocks. */
    OrtBatch of(List<PrefixCache.Block> chain) {
        int width = chain.size() * PrefixCache.BLOCK;
        OnnxTensor[] k = new OnnxTensor[layers];
        OnnxTensor[] v = new OnnxTensor[layers];
        long[] shape = {1, kvHeads, width, headDim};
        int floats = kvHeads * width * headDim;
        try {
            // Direct buffers: ONNX Runtime reads them where they are, so the blocks are copied once.
            for (int l = 0; l < layers; l++) {
                k[l] = OnnxTensor.createTensor(
                        env, PrefixCache.concat(chain, l, true, kvHeads, headDim, direct(floats)), shape);
                v[l] = OnnxTensor.createTensor(
                        env, PrefixCache.concat(chain, l, false, kvHeads, headDim, direct(floats)), shape);
            }
        } catch (OrtException e) {
            for (int l = 0; l < layers; l++) {
                for (OnnxTensor t : new OnnxTensor[] {k[l], v[l]}) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
            throw new OrtEngine.EngineException(e.getMessage(), e);
        }
        return new OrtBatch(1, width, new int[] {width}, k, v, null);
    }

    private static FloatBuffer direct(int floats) {
        return java.nio.ByteBuffer.allocateDirect(floats * Float.BYTES)
                .order(java.nio.ByteOrder.nativeOrder())
                .asFloatBuffer();
    }

    /** Copies the chosen rows' caches into a fresh right-aligned batch no wider than its longest row. */
    OrtBatch assemble(List<OrtBatch> sources, List<Integer> picks) {
        int rows = picks.size();
        int[] real = new int[rows];
        int width = 0;
        for (int i = 0; i < rows; i++) {
            real[i] = sources.get(i).real[picks.get(i)];
            width = Math.max(width, real[i]);
        }
        if (rows == 0) {
            return empty(0);
        }
        OnnxTensor[] keys = new OnnxTensor[layers];
        OnnxTensor[] values = new OnnxTensor[layers];
        try {
            // One layer's caches on the Java heap at a time, not the whole model's.
            for (int l = 0; l < layers; l++) {
                keys[l] = gather(sources, picks, real, width, l, true, new IdentityHashMap<>());
                values[l] = gather(sources, picks, real, width, l, false, new IdentityHashMap<>());
            }
        } catch (OrtException e) {
            throw new OrtEngine.EngineException(e.getMessage(), e);
        }
        return new OrtBatch(rows, width, real, keys, values, null);
    }

    private OnnxTensor gather(
            List<OrtBatch> sources,
            List<Integer> picks,
            int[] real,
            int width,
            int layer,
            boolean key,
            Map<OnnxTensor, float[]> cache)
            throws OrtException {
        int rows = picks.size();
        float[] out = new float[rows * kvHeads * width * headDim];
        for (int i = 0; i < rows; i++) {
            OrtBatch src = sources.get(i);
            OnnxTensor t = key ? src.keys[layer] : src.values[layer];
            float[] data = cache.computeIfAbsent(t, x -> {
                FloatBuffer fb = x.getFloatBuffer();
                float[] d = new float[fb.remaining()];
                fb.get(d);
                return d;
            });
            int r = picks.get(i);
            int n = real[i] * headDim;
            for (int h = 0; h < kvHeads; h++) {
                int from = ((r * kvHeads + h) * src.width + (src.width - real[i])) * headDim;
                int to = ((i * kvHeads + h) * width + (width - real[i])) * headDim;
                System.arraycopy(data, from, out, to, n);
            }
        }
        return OnnxTensor.createTensor(env, FloatBuffer.wrap(out), new long[] {rows, kvHeads, width, headDim});
    }
}
