package io.rlhf4j.serving.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A reward graph ({@code reward.onnx}) on ONNX Runtime: sequences in, one scalar each out. ONNX
 * Runtime sessions take concurrent runs, so callers on several worker threads may share it.
 */
public final class OrtRewardEngine implements AutoCloseable {

    public static final String REWARD = Layout.REWARD;

    private final OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
    private final String version;
    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final OrtSession session;
    // Scoring holds the read lock, closing the write lock: a session is never closed under a run.
    private final java.util.concurrent.locks.ReentrantReadWriteLock lock =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private boolean closed;

    private OrtRewardEngine(String version, ModelConfig config, Tokenizer tokenizer, OrtSession session) {
        this.version = version;
        this.config = config;
        this.tokenizer = tokenizer;
        this.session = session;
    }

    public static OrtRewardEngine load(Path dir, String version, EngineOptions engine) throws IOException {
        Path graph = dir.resolve(REWARD);
        if (!Files.exists(graph)) {
            throw new IOException(dir + ": no " + REWARD + " (export the reward model with --reward)");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "rlhf4j");
        try (OrtSession.SessionOptions options = engine.sessionOptions()) {
            return new OrtRewardEngine(
                    version,
                    Checkpoint.readConfig(dir),
                    Checkpoint.readTokenizer(dir),
                    env.createSession(graph.toString(), options));
        } catch (OrtException e) {
            throw new IOException(graph + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
    }

    public String version() {
        return version;
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Rewards of token sequences (right-padded into one batch; the graph reads each row's last real token). */
    public float[] score(List<int[]> sequences) {
        int rows = sequences.size();
        int width = sequences.stream().mapToInt(s -> s.length).max().orElse(1);
        long[] ids = new long[rows * width];
        long[] pos = new long[rows * width];
        long[] mask = new long[rows * width];
        for (int r = 0; r < rows; r++) {
            int[] s = sequences.get(r);
            for (int j = 0; j < s.length; j++) {
                ids[r * width + j] = s[j];
                pos[r * width + j] = j;
                mask[r * width + j] = 1;
            }
        }
        long[] shape = {rows, width};
        lock.readLock().lock();
        try (OnnxTensor i = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
                OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), shape);
                OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                OrtSession.Result r = session.run(Map.of("input_ids", i, "position_ids", p, "attention_mask", m))) {
            FloatBuffer fb = ((OnnxTensor) r.get("rewards").orElseThrow()).getFloatBuffer();
            float[] out = new float[rows];
            fb.get(out);
            return out;
        } catch (OrtException e) {
            throw new OrtEngine.EngineException("reward model " + version + " failed: " + e.getMessage(), e);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                session.close();
            }
        } catch (OrtException e) {
            throw new OrtEngine.EngineException(e.getMessage(), e);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
