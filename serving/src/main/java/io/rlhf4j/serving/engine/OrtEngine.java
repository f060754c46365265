package io.rlhf4j.serving.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A policy graph ({@code policy.onnx} from the exporter) on ONNX Runtime's CPU provider.
 *
 * <p>Rows of a batch are right-aligned: each row's cache occupies the last {@code real} positions and
 * padding on the left is masked out, with position ids counting real tokens only. A decode step passes
 * the previous step's {@code present} tensors straight back as {@code past} (no copy); only a change
 * of membership (rows joining or leaving) copies caches into a new layout.
 */
public final class OrtEngine implements PolicyEngine {

    public static final String POLICY = Layout.POLICY;

    private final OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
    private final String version;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final OrtSession session;
    private final int layers;
    private final int kvHeads;
    private final int headDim;

    private OrtEngine(
            String version, ModelConfig config, Tokenizer tokenizer, ChatTemplate chatTemplate, OrtSession session) {
        this.version = version;
        this.config = config;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.session = session;
        this.layers = config.numLayers();
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
    }

    /**
     * Loads a registry version directory (checkpoint config, tokenizer and {@code policy.onnx}); ONNX
     * Runtime optimises the graph for this machine at load time.
     */
    public static OrtEngine load(Path dir, String version, EngineOptions engine) throws IOException {
        Path graph = dir.resolve(engine.weights().policyFile());
        if (!Files.exists(graph)) {
            throw new IOException(
                    engine.weights().quantized()
                            ? "version " + version + " has no " + engine.weights() + " policy (" + graph.getFileName()
                                    + "): export it with --quantize " + engine.weights()
                                    + ", or serve with --weights fp32"
                            : dir + ": no " + POLICY + " (export the checkpoint first)");
        }
        ModelConfig config = Checkpoint.readConfig(dir);
        Tokenizer tokenizer = Checkpoint.readTokenizer(dir);
        ChatTemplate chatTemplate = ChatTemplate.load(dir);
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
        try (OrtSession.SessionOptions options = engine.sessionOptions()) {
            return new OrtEngine(
                    version, config, tokenizer, chatTemplate, env.createSession(graph.toString(), options));
        } catch (OrtException e) {
            throw new IOException(graph + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
    }

    @Override
    public String version() {
        return version;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /** Right-aligned caches: row r holds {@code real[r]} positions at the end of {@code width}. */
    final class OrtBatch implements Batch {
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
                    for (int l = 0; l < layers; l++) {
                        keys[l].close();
                        values[l].close();
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Override
    public Step prefill(List<int[]> prompts) {
        int rows = prompts.size();
        int width = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        long[] ids = new long[rows * width];
        long[] pos = new long[rows * width];
        int[] real = new int[rows];
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            int pad = width - p.length;
            real[r] = p.length;
            for (int j = 0; j < p.length; j++) {
                ids[r * width + pad + j] = p[j];
                pos[r * width + pad + j] = j;
            }
        }
        OrtBatch empty = emptyBatch(rows);
        try {
            return run(empty, ids, pos, width, real);
        } finally {
            empty.close();
        }
    }

    @Override
    public Step decode(Batch batch, int[] tokens) {
        OrtBatch b = (OrtBatch) batch;
        long[] ids = new long[b.rows];
        long[] pos = new long[b.rows];
        int[] real = new int[b.rows];
        for (int r = 0; r < b.rows; r++) {
            ids[r] = tokens[r];
            pos[r] = b.real[r];
            real[r] = b.real[r] + 1;
        }
        try {
            return run(b, ids, pos, 1, real);
        } finally {
            b.close();
        }
    }

    private Step run(OrtBatch past, long[] ids, long[] pos, int len, int[] realAfter) {
        int rows = past.rows;
        Map<String, OnnxTensor> inputs = new HashMap<>();
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            long[] mask = rightAligned(rows, past.width + len, realAfter);
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {rows, len}));
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {rows, len}));
            owned.add(OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {rows, past.width + len}));
            inputs.put("input_ids", owned.get(0));
            inputs.put("position_ids", owned.get(1));
            inputs.put("attention_mask", owned.get(2));
            for (int l = 0; l < layers; l++) {
                inputs.put("past_key_values." + l + ".key", past.keys[l]);
                inputs.put("past_key_values." + l + ".value", past.values[l]);
            }
            OrtSession.Result result = session.run(inputs);
            try {
                OnnxTensor[] keys = new OnnxTensor[layers];
                OnnxTensor[] values = new OnnxTensor[layers];
                for (int l = 0; l < layers; l++) {
                    keys[l] = (OnnxTensor) result.get("present." + l + ".key").orElseThrow();
                    values[l] =
                            (OnnxTensor) result.get("present." + l + ".value").orElseThrow();
                }
                OnnxTensor logitsTensor = (OnnxTensor) result.get("logits").orElseThrow();
                long[] shape = logitsTensor.getInfo().getShape();
                int vocab = (int) shape[shape.length - 1];
                FloatBuffer all = logitsTensor.getFloatBuffer();
                float[][] logits = new float[rows][vocab];
                for (int r = 0; r < rows; r++) {
                    all.position(((r + 1) * len - 1) * vocab);
                    all.get(logits[r]);
                }
                // The buffer is ONNX Runtime's copy of the logits, ours to keep: a prefill's prompt rows
                // are right-aligned, so token j of row r sits at column len - real[r] + j.
                PromptLogits prompt = past.width > 0
                        ? null
                        : (row, index) -> {
                            float[] out = new float[vocab];
                            all.get(((row * len) + len - realAfter[row] + index) * vocab, out);
                            return out;
                        };
                return new Step(new OrtBatch(rows, past.width + len, realAfter, keys, values, result), logits, prompt);
            } catch (RuntimeException e) {
                result.close();
                throw e;
            }
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime failed on version " + version + ": " + e.getMessage(), e);
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    /** The attention mask of right-aligned rows: row r's last {@code real[r]} of {@code width} positions. */
    private static long[] rightAligned(int rows, int width, int[] real) {
        long[] m = new long[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int j = width - real[r]; j < width; j++) {
                m[r * width + j] = 1;
            }
        }
        return m;
    }

    private OrtBatch emptyBatch(int rows) {
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
            throw new EngineException(e.getMessage(), e);
        }
    }

    @Override
    public Batch merge(Batch a, int[] aRows, Batch b, int[] bRows) {
        List<OrtBatch> sources = new ArrayList<>();
        List<Integer> picks = new ArrayList<>();
        for (int r : aRows) {
            sources.add((OrtBatch) a);
            picks.add(r);
        }
        for (int r : bRows) {
            sources.add((OrtBatch) b);
            picks.add(r);
        }
        try {
            return assemble(sources, picks);
        } finally {
            if (a != null) {
                a.close();
            }
            if (b != null) {
                b.close();
            }
        }
    }

    /** Copies the chosen rows' caches into a fresh right-aligned batch no wider than its longest row. */
    private OrtBatch assemble(List<OrtBatch> sources, List<Integer> picks) {
        int rows = picks.size();
        int[] real = new int[rows];
        int width = 0;
        for (int i = 0; i < rows; i++) {
            real[i] = sources.get(i).real[picks.get(i)];
            width = Math.max(width, real[i]);
        }
        if (rows == 0) {
            return emptyBatch(0);
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
            throw new EngineException(e.getMessage(), e);
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

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new EngineException(e.getMessage(), e);
        }
    }

    /** An inference failure. */
    public static final class EngineException extends RuntimeException {
        public EngineException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
