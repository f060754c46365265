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
import java.util.List;
import java.util.Map;

/**
 * A policy graph ({@code policy.onnx} from the exporter) on ONNX Runtime's CPU provider.
 *
 * <p>Rows of a batch are right-aligned: each row's cache occupies the last {@code real} positions and
 * padding on the left is masked out, with position ids counting real tokens only. A decode step passes
 * the previous step's {@code present} tensors straight back as {@code past} (no copy); only a change
 * of membership (rows joining or leaving) copies caches into a new layout ({@link KvLayout}).
 *
 * <p>With a {@link PrefixCache}, every prefill leaves its prompts' full blocks of KV behind, and a row
 * allowed to reuse them runs only the tokens after its longest cached prefix; {@link #extend} carries a
 * chunked prefill on from a one-row cache.
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
    private final PrefixCache prefixes;
    private final KvLayout layout;
    /** Whether the graph takes {@code logits_from} (exports made before it was added do not). */
    private final boolean takesLogitsFrom;

    private static final String LOGITS_FROM = Layout.LOGITS_FROM;

    private OrtEngine(
            String version,
            ModelConfig config,
            Tokenizer tokenizer,
            ChatTemplate chatTemplate,
            OrtSession session,
            int prefixCacheMb) {
        this.version = version;
        this.config = config;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.session = session;
        this.layers = config.numLayers();
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        this.layout = new KvLayout(layers, kvHeads, headDim);
        this.takesLogitsFrom = session.getInputNames().contains(LOGITS_FROM);
        this.prefixes = prefixCacheMb > 0 ? new PrefixCache(prefixCacheMb * (1L << 20), layers) : null;
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
                    version,
                    config,
                    tokenizer,
                    chatTemplate,
                    env.createSession(graph.toString(), options),
                    engine.prefixCacheMb());
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

    @Override
    public Step prefill(List<int[]> prompts) {
        return prefill(prompts, new boolean[prompts.size()]);
    }

    /**
     * Rows allowed to reuse cached prefix blocks skip their prefill: each runs only the tokens after its
     * longest cached prefix, on that prefix's KV as its past. Their prompt logits then exist only for
     * those tokens, which is why the scheduler allows it only where no one asked for prompt log-probs.
     */
    @Override
    public Step prefill(List<int[]> prompts, boolean[] reusePrefix) {
        // A row that may not reuse is one whose caller may ask for its prompt log-probs.
        boolean promptLogits = false;
        for (boolean reuse : reusePrefix) {
            promptLogits |= !reuse;
        }
        if (prefixes == null) {
            return coldPrefill(prompts, promptLogits);
        }
        int rows = prompts.size();
        List<List<PrefixCache.Block>> hits = new ArrayList<>();
        int reused = 0;
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            hits.add(reusePrefix[r] ? prefixes.lookup(p, p.length - 1) : List.of());
            reused += hits.get(r).size() * PrefixCache.BLOCK;
        }
        Step step = reused == 0 ? coldPrefill(prompts, promptLogits) : warmPrefill(prompts, hits, promptLogits);
        prefixes.recordHits(reused);
        remember(prompts, step);
        return step;
    }

    @Override
    public int cachedPrefix(int[] prompt) {
        return prefixes == null ? 0 : prefixes.lookup(prompt, prompt.length - 1).size() * PrefixCache.BLOCK;
    }

    @Override
    public Step extend(Batch batch, int[] prompt, int to) {
        OrtBatch b = (OrtBatch) batch;
        if (b.rows != 1) {
            throw new IllegalArgumentException("a chunked prefill extends one row, not " + b.rows);
        }
        Step step;
        try {
            step = continueRow(b, prompt, to);
        } finally {
            b.close();
        }
        if (prefixes != null) {
            if (to == prompt.length) {
                // Once, when the prompt is in: caching after every chunk re-read the row's whole cache
                // each time, which cost more than the chunk's own forward on 2 cores.
                remember(List.of(prompt), step);
            }
        }
        return step;
    }

    /** Caches the prompts' new blocks from {@code step}'s batch; on failure the batch is freed. */
    private void remember(List<int[]> prompts, Step step) {
        try {
            prefixes.insertAll(prompts, (OrtBatch) step.batch(), kvHeads, headDim);
        } catch (RuntimeException e) {
            step.batch().close();
            throw e;
        }
    }

    /**
     * Runs {@code prompt}'s tokens up to {@code to} after the positions one-row {@code past} holds (a
     * cached prefix, or the chunks so far); no prompt logits.
     */
    private Step continueRow(OrtBatch past, int[] prompt, int to) {
        int from = past.real[0];
        long[] ids = new long[to - from];
        long[] pos = new long[to - from];
        for (int j = from; j < to; j++) {
            ids[j - from] = prompt[j];
            pos[j - from] = j;
        }
        return run(past, ids, pos, ids.length, new int[] {to});
    }

    /** Prompt tokens whose KV came from the prefix cache since this engine loaded. */
    public long prefixHitTokens() {
        return prefixes == null ? 0 : prefixes.hitTokens();
    }

    private Step warmPrefill(List<int[]> prompts, List<List<PrefixCache.Block>> hits, boolean promptLogits) {
        int rows = prompts.size();
        if (rows == 1) {
            // One row: its step is the batch already, no re-layout (a copy of every cache) needed.
            try (OrtBatch past = layout.of(hits.get(0))) {
                return continueRow(past, prompts.get(0), prompts.get(0).length);
            }
        }
        List<Integer> cold = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            if (hits.get(r).isEmpty()) {
                cold.add(r);
            }
        }
        Step coldStep = cold.isEmpty()
                ? null
                : coldPrefill(cold.stream().map(prompts::get).toList(), promptLogits);
        Step[] warm = new Step[rows];
        List<OrtBatch> sources = new ArrayList<>();
        List<Integer> picks = new ArrayList<>();
        float[][] logits = new float[rows][];
        try {
            for (int r = 0; r < rows; r++) {
                if (hits.get(r).isEmpty()) {
                    int i = cold.indexOf(r);
                    sources.add((OrtBatch) coldStep.batch());
                    picks.add(i);
                    logits[r] = coldStep.logits()[i];
                    continue;
                }
                try (OrtBatch past = layout.of(hits.get(r))) {
                    warm[r] = continueRow(past, prompts.get(r), prompts.get(r).length);
                }
                sources.add((OrtBatch) warm[r].batch());
                picks.add(0);
                logits[r] = warm[r].logits()[0];
            }
            OrtBatch merged = layout.assemble(sources, picks);
            PromptLogits prompt = coldStep == null
                    ? null
                    : (row, index) -> {
                        if (warm[row] != null) {
                            throw new IllegalStateException("row " + row + " reused a cached prefix: no prompt logits");
                        }
                        return coldStep.prompt().at(cold.indexOf(row), index);
                    };
            return new Step(merged, logits, prompt);
        } finally {
            if (coldStep != null) {
                coldStep.batch().close();
            }
            for (Step s : warm) {
                if (s != null) {
                    s.batch().close();
                }
            }
        }
    }

    private Step coldPrefill(List<int[]> prompts, boolean promptLogits) {
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
        OrtBatch empty = layout.empty(rows);
        try {
            return run(empty, ids, pos, width, real, promptLogits);
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
        return run(past, ids, pos, len, realAfter, false);
    }

    /**
     * One forward. With {@code promptLogits} (a prefill whose callers may ask for prompt log-probs)
     * every position's logits come back; otherwise, where the graph can (exports since it gained the
     * {@code logits_from} input), only the last position's, which spares the unembedding of the rest:
     * a quarter of a 500-token prefill's arithmetic at GPT-2's vocabulary, and 100 MB of logits.
     */
    private Step run(OrtBatch past, long[] ids, long[] pos, int len, int[] realAfter, boolean promptLogits) {
        int rows = past.rows;
        Map<String, OnnxTensor> inputs = new HashMap<>();
        List<OnnxTensor> owned = new ArrayList<>();
        try {
            if (takesLogitsFrom) {
                long from = promptLogits ? 0 : len - 1;
                OnnxTensor f = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {from}), new long[] {1});
                owned.add(f);
                inputs.put(LOGITS_FROM, f);
            }
            long[] mask = rightAligned(rows, past.width + len, realAfter);
            OnnxTensor idsTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {rows, len});
            owned.add(idsTensor);
            OnnxTensor posTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {rows, len});
            owned.add(posTensor);
            OnnxTensor maskTensor =
                    OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {rows, past.width + len});
            owned.add(maskTensor);
            inputs.put("input_ids", idsTensor);
            inputs.put("position_ids", posTensor);
            inputs.put("attention_mask", maskTensor);
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
                int positions = (int) shape[1];
                float[][] logits = new float[rows][vocab];
                for (int r = 0; r < rows; r++) {
                    all.position(((r + 1) * positions - 1) * vocab);
                    all.get(logits[r]);
                }
                // The buffer is ONNX Runtime's copy of the logits, ours to keep: a prefill's prompt rows
                // are right-aligned, so token j of row r sits at column len - real[r] + j.
                PromptLogits prompt = past.width > 0 || positions < len
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
            return layout.assemble(sources, picks);
        } finally {
            if (a != null) {
                a.close();
            }
            if (b != null) {
                b.close();
            }
        }
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
