package io.rlhf4j.exporter;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.rlhf4j.exporter.ort.OrtPolicy;
import io.rlhf4j.exporter.ort.OrtReward;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.KvCache;
import io.rlhf4j.trainer.rm.RewardModel;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Runs the same token ids through the trainer's DJL model and an exported graph and reports the
 * largest logit difference: a prefill of a left-padded batch (rows of different lengths), then
 * greedy decode steps with both KV caches. Positions that are padding are not compared.
 */
public final class Parity {

    /** Largest absolute differences seen; {@code decodeSteps} steps after the prefill. */
    public record Result(double prefillMaxAbsDiff, double decodeMaxAbsDiff, int decodeSteps) {
        public double max() {
            return Math.max(prefillMaxAbsDiff, decodeMaxAbsDiff);
        }
    }

    private Parity() {}

    public static Result policy(
            Decoder model, Path onnx, OrtSession.SessionOptions.OptLevel level, int decodeSteps, long seed)
            throws OrtException {
        int vocab = model.config().vocabSize();
        int[] lengths = {7, 4};
        int batch = lengths.length;
        int width = 7;
        SplittableRandom rng = new SplittableRandom(seed);
        long[] ids = new long[batch * width];
        long[] pos = new long[batch * width];
        long[][] mask = new long[batch][width];
        for (int r = 0; r < batch; r++) {
            int pad = width - lengths[r];
            for (int j = 0; j < lengths[r]; j++) {
                ids[r * width + pad + j] = rng.nextInt(vocab);
                pos[r * width + pad + j] = j;
                mask[r][pad + j] = 1;
            }
        }
        NDManager m = model.manager();
        double prefillDiff = 0;
        double decodeDiff = 0;
        try (OrtPolicy ort = new OrtPolicy(onnx, model.config(), level, 0);
                OrtPolicy.Cache ortCache = ort.newCache(batch);
                NDManager scratch = m.newSubManager();
                KvCache djlCache = model.newCache(scratch)) {
            long[] flatMask = flatten(mask);
            float[] expected = djlLogits(model, scratch, ids, pos, flatMask, batch, width, djlCache);
            float[] actual = ort.forward(ids, pos, flatMask, batch, width, ortCache);
            for (int r = 0; r < batch; r++) {
                for (int j = 0; j < width; j++) {
                    if (mask[r][j] == 1) {
                        prefillDiff = Math.max(prefillDiff, maxDiff(expected, actual, (r * width + j) * vocab, vocab));
                    }
                }
            }
            // Positions must stay inside the context window (GPT-2's learned table ends there).
            decodeSteps = Math.min(decodeSteps, model.config().maxPositions() - width);
            long[] next = new long[batch];
            long[] nextPos = new long[batch];
            for (int step = 0; step < decodeSteps; step++) {
                for (int r = 0; r < batch; r++) {
                    int row = step == 0 ? r * width + width - 1 : r;
                    next[r] = argmax(expected, row * vocab, vocab);
                    nextPos[r] = lengths[r] + step;
                    mask[r] = java.util.Arrays.copyOf(mask[r], mask[r].length + 1);
                    mask[r][mask[r].length - 1] = 1;
                }
                flatMask = flatten(mask);
                expected = djlLogits(model, scratch, next, nextPos, flatMask, batch, 1, djlCache);
                actual = ort.forward(next, nextPos, flatMask, batch, 1, ortCache);
                decodeDiff = Math.max(decodeDiff, maxDiff(expected, actual, 0, expected.length));
            }
        }
        return new Result(prefillDiff, decodeDiff, decodeSteps);
    }

    /** Largest reward difference over a padded batch (left and right padding both present). */
    public static double reward(RewardModel model, Path onnx, OrtSession.SessionOptions.OptLevel level, long seed)
            throws OrtException {
        int vocab = model.trunk().config().vocabSize();
        int width = 6;
        long[] mask = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
        int batch = mask.length / width;
        SplittableRandom rng = new SplittableRandom(seed);
        long[] ids = new long[mask.length];
        long[] pos = new long[mask.length];
        for (int r = 0; r < batch; r++) {
            long p = 0;
            for (int j = 0; j < width; j++) {
                if (mask[r * width + j] == 1) {
                    ids[r * width + j] = rng.nextInt(vocab);
                    pos[r * width + j] = p++;
                }
            }
        }
        float[] expected;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDManager m = model.trunk().manager();
            Shape s = new Shape(batch, width);
            expected = model.rewards(m.create(ids, s), m.create(pos, s), m.create(mask, s))
                    .toFloatArray();
        }
        try (OrtReward ort = new OrtReward(onnx, level)) {
            float[] actual = ort.rewards(ids, pos, mask, batch, width);
            return maxDiff(expected, actual, 0, expected.length);
        }
    }

    private static float[] djlLogits(
            Decoder model, NDManager m, long[] ids, long[] pos, long[] mask, int batch, int len, KvCache cache) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return model.forward(
                            m.create(ids, new Shape(batch, len)),
                            m.create(pos, new Shape(batch, len)),
                            m.create(mask, new Shape(batch, mask.length / batch)),
                            cache,
                            false)
                    .toFloatArray();
        }
    }

    private static long[] flatten(long[][] rows) {
        int w = rows[0].length;
        long[] out = new long[rows.length * w];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, out, r * w, w);
        }
        return out;
    }

    private static double maxDiff(float[] a, float[] b, int from, int n) {
        double d = 0;
        for (int i = from; i < from + n; i++) {
            double x = Math.abs((double) a[i] - b[i]);
            d = Double.isNaN(x) ? Double.POSITIVE_INFINITY : Math.max(d, x);
        }
        return d;
    }

    private static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[from + i] > a[from + best]) {
                best = i;
            }
        }
        return best;
    }
}
