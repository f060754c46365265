package io.rlhf4j.exporter.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.rlhf4j.core.config.ModelConfig;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * An exported policy graph run by ONNX Runtime on the CPU, with its KV cache: what the exporter's
 * parity check and benchmarks drive. (Serving has its own engine; it must not depend on DJL, which
 * this module does.) Not thread-safe: one owner per instance and per cache.
 */
public final class OrtPolicy implements AutoCloseable {

    private static final String LOGITS_FROM = io.rlhf4j.exporter.onnx.DecoderGraph.LOGITS_FROM;
    private final OrtEnvironment env = Ort.env();
    private final OrtSession session;
    private final ModelConfig config;

    /** The present keys and values of the last step, kept alive by the result that holds them. */
    public final class Cache implements AutoCloseable {
        private final int batch;
        private OrtSession.Result last;
        private long length;

        Cache(int batch) {
            this.batch = batch;
        }

        public long length() {
            return length;
        }

        OnnxTensor pastOrEmpty(String name, int layer, boolean key) throws OrtException {
            if (last == null) {
                long[] shape = {batch, config.numKvHeads(), 0, config.headDim()};
                return OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape);
            }
            return (OnnxTensor)
                    last.get("present." + layer + (key ? ".key" : ".value")).orElseThrow();
        }

        @Override
        public void close() {
            if (last != null) {
                last.close();
                last = null;
            }
        }
    }

    public OrtPolicy(Path onnx, ModelConfig config, OrtSession.SessionOptions.OptLevel level, int threads)
            throws OrtException {
        this.config = config;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(level);
            if (threads > 0) {
                options.setIntraOpNumThreads(threads);
            }
            this.session = env.createSession(onnx.toString(), options);
        }
    }

    public Cache newCache(int batch) {
        return new Cache(batch);
    }

    /**
     * One forward over [batch, len] new tokens; {@code mask} covers past and new positions. Returns
     * logits [batch * len * vocab] and extends {@code cache}.
     */
    public float[] forward(long[] ids, long[] positions, long[] mask, int batch, int len, Cache cache)
            throws OrtException {
        Map<String, OnnxTensor> inputs = new HashMap<>();
        Map<String, OnnxTensor> owned = new HashMap<>();
        try {
            long total = mask.length / batch;
            owned.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {batch, len}));
            owned.put(
                    "position_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(positions), new long[] {batch, len}));
            owned.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {batch, total}));
            if (session.getInputNames().contains(LOGITS_FROM)) {
                // every position's logits: what parity, perplexity and the benchmarks read
                owned.put(LOGITS_FROM, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {0}), new long[] {1}));
            }
            inputs.putAll(owned);
            for (int l = 0; l < config.numLayers(); l++) {
                for (boolean key : new boolean[] {true, false}) {
                    String name = "past_key_values." + l + (key ? ".key" : ".value");
                    OnnxTensor past = cache.pastOrEmpty(name, l, key);
                    if (cache.last == null) {
                        owned.put(name, past);
                    }
                    inputs.put(name, past);
                }
            }
            OrtSession.Result result = session.run(inputs);
            OnnxValue logits = result.get("logits").orElseThrow();
            FloatBuffer fb = ((OnnxTensor) logits).getFloatBuffer();
            float[] out = new float[fb.remaining()];
            fb.get(out);
            cache.close();
            cache.last = result;
            cache.length = total;
            return out;
        } finally {
            owned.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * One row continued from {@code prompt} (prefilled in one forward) by up to {@code n} tokens, each
     * chosen from the logits before it by {@code next}; ends early at {@code stop} (not included; -1:
     * never): greedy decoding with {@code Sampler::argmax}, sampling with {@code Sampler.sample}.
     */
    public long[] continuation(long[] prompt, int n, java.util.function.ToLongFunction<float[]> next, long stop)
            throws OrtException {
        long[] out = new long[n];
        int produced = 0;
        try (Cache cache = newCache(1)) {
            long[] positions = new long[prompt.length];
            for (int i = 0; i < positions.length; i++) {
                positions[i] = i;
            }
            long[] mask = new long[prompt.length];
            java.util.Arrays.fill(mask, 1);
            float[] logits = forward(prompt, positions, mask, 1, prompt.length, cache);
            int vocab = config.vocabSize();
            logits = java.util.Arrays.copyOfRange(logits, logits.length - vocab, logits.length);
            for (; produced < n; produced++) {
                long token = next.applyAsLong(logits);
                if (token == stop) {
                    break;
                }
                out[produced] = token;
                mask = java.util.Arrays.copyOf(mask, mask.length + 1);
                mask[mask.length - 1] = 1;
                logits = forward(new long[] {token}, new long[] {mask.length - 1}, mask, 1, 1, cache);
            }
        }
        return java.util.Arrays.copyOf(out, produced);
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
