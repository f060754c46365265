package io.rlhf4j.trainer.data;

import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Documents tokenised and concatenated into one stream (BOS before each, EOS after each), from which
 * language-model windows are cut. Batch {@code step} depends only on (seed, step), not on what was
 * drawn before, so a resumed run sees exactly the batches an uninterrupted one would.
 */
public final class TokenStream {

    private final int[] tokens;

    private TokenStream(int[] tokens) {
        this.tokens = tokens;
    }

    public static TokenStream of(List<String> documents, Tokenizer tokenizer) {
        int[][] encoded =
                documents.parallelStream().map(d -> tokenizer.encode(d, true)).toArray(int[][]::new);
        int eos = tokenizer.eosId();
        long total = 0;
        for (int[] e : encoded) {
            total += e.length + (eos >= 0 ? 1 : 0);
        }
        int[] all = new int[Math.toIntExact(total)];
        int at = 0;
        for (int[] e : encoded) {
            System.arraycopy(e, 0, all, at, e.length);
            at += e.length;
            if (eos >= 0) {
                all[at++] = eos;
            }
        }
        return new TokenStream(all);
    }

    public int size() {
        return tokens.length;
    }

    /** A batch of {@code rows} windows of {@code seqLen + 1} tokens at random offsets. */
    public long[] randomBatch(long seed, long step, int rows, int seqLen) {
        if (tokens.length < seqLen + 2) {
            throw new IllegalStateException(
                    "the corpus has " + tokens.length + " tokens, fewer than one window of " + (seqLen + 1));
        }
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
        long[] out = new long[rows * (seqLen + 1)];
        for (int r = 0; r < rows; r++) {
            int start = rng.nextInt(tokens.length - seqLen - 1);
            for (int j = 0; j <= seqLen; j++) {
                out[r * (seqLen + 1) + j] = tokens[start + j];
            }
        }
        return out;
    }

    /** Consecutive windows from the start, for a validation loss that is the same on every call. */
    public long[] sequentialBatch(int index, int rows, int seqLen) {
        long[] out = new long[rows * (seqLen + 1)];
        for (int r = 0; r < rows; r++) {
            int start = ((index * rows + r) * seqLen) % Math.max(1, tokens.length - seqLen - 1);
            for (int j = 0; j <= seqLen; j++) {
                out[r * (seqLen + 1) + j] = tokens[start + j];
            }
        }
        return out;
    }

    public int windowsAvailable(int seqLen) {
        return Math.max(0, (tokens.length - 1) / seqLen);
    }
}
