package io.rlhf4j.trainer.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.trainer.model.Owned;
import java.util.Arrays;
import java.util.List;

/**
 * Token sequences right-padded into one batch: ids, position ids counting real tokens, and the key
 * mask (1 real, 0 padding), created in the caller's manager (normally inside an NDScope).
 */
public record PaddedBatch(NDArray ids, NDArray positions, NDArray mask, int width) {

    public static PaddedBatch of(List<int[]> seqs, NDManager m) {
        int rows = seqs.size();
        int width = seqs.stream().mapToInt(s -> s.length).max().orElseThrow();
        long[] ids = new long[rows * width];
        long[] pos = new long[rows * width];
        long[] mask = new long[rows * width];
        for (int r = 0; r < rows; r++) {
            int[] s = seqs.get(r);
            for (int j = 0; j < s.length; j++) {
                ids[r * width + j] = s[j];
                pos[r * width + j] = j;
                mask[r * width + j] = 1;
            }
        }
        Shape shape = new Shape(rows, width);
        return new PaddedBatch(
                Owned.copy(m.create(ids, shape)),
                Owned.copy(m.create(pos, shape)),
                Owned.copy(m.create(mask, shape)),
                width);
    }

    /** A [rows, n] array as one float array per row. */
    public static float[][] rows(NDArray a) {
        long[] shape = a.getShape().getShape();
        float[] flat = a.toFloatArray();
        int w = (int) shape[1];
        float[][] out = new float[(int) shape[0]][];
        for (int r = 0; r < out.length; r++) {
            out[r] = Arrays.copyOfRange(flat, r * w, (r + 1) * w);
        }
        return out;
    }
}
