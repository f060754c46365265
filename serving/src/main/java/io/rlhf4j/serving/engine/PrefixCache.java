package io.rlhf4j.serving.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * KV blocks of prompt prefixes that earlier prefills computed, so a request that starts with the same
 * tokens (a system prompt, a chat history, the {@code n} completions of a labeling task) skips their
 * prefill. As vLLM's automatic prefix caching: a block holds {@link #BLOCK} tokens' keys and values
 * for every layer and is keyed by the hash of (its parent block's key, its tokens), so a block is
 * reused only after the whole prefix before it; the least recently used blocks are evicted to stay
 * within a byte budget. (Not Caffeine: its TinyLFU admission turns away a new block whenever the cache
 * is full of blocks seen as often, so a system prompt that arrives after a burst of one-off prompts
 * was never cached; measured in {@code bench --suite serve}.)
 *
 * <p>One cache belongs to one engine, and an engine to one model version: a hot swap or a rollback
 * loads a new engine with an empty cache, so a version never sees another's KV. Owned by the engine's
 * scheduler thread; the counters may be read from any thread.
 */
final class PrefixCache {

    static final int BLOCK = 16;

    /** One block: {@code keys[layer]} and {@code values[layer]} are [kvHeads, BLOCK, headDim]. */
    record Block(long parent, int[] tokens, float[][] keys, float[][] values) {
        long bytes() {
            return (long) keys.length * 2 * keys[0].length * Float.BYTES + tokens.length * Integer.BYTES + 64;
        }
    }

    /** Copies the keys or values of one layer at positions [from, from + BLOCK) of a batch's row. */
    interface Source {
        float[] copy(int layer, boolean key, int row, int from);
    }

    private final java.util.LinkedHashMap<Long, Block> blocks = new java.util.LinkedHashMap<>(64, 0.75f, true);
    private final long budgetBytes;
    private long bytes;
    private final int layers;
    private final AtomicLong hitTokens = new AtomicLong();

    PrefixCache(long budgetBytes, int layers) {
        this.layers = layers;
        this.budgetBytes = budgetBytes;
    }

    /**
     * The cached blocks that begin {@code prompt}, longest first-to-last chain, covering at most {@code
     * maxTokens} tokens (a prefill must still run at least the last prompt token for its logits).
     */
    List<Block> lookup(int[] prompt, int maxTokens) {
        List<Block> chain = new ArrayList<>();
        List<Long> keys = new ArrayList<>();
        long parent = 0;
        for (int from = 0; from + BLOCK <= Math.min(prompt.length, maxTokens); from += BLOCK) {
            int[] tokens = Arrays.copyOfRange(prompt, from, from + BLOCK);
            long key = key(parent, tokens);
            Block b = cached(key, parent, tokens);
            if (b == null) {
                break;
            }
            chain.add(b);
            keys.add(key);
            parent = key;
        }
        touchLeafFirst(keys);
        return chain;
    }

    /** A block of a prompt that is not cached yet: where it starts, its chain keys and its tokens. */
    private record Missing(int row, int from, long parent, long key, int[] tokens) {}

    /** The full blocks of {@code prompt} (row {@code row} of a batch) that are not cached. */
    private List<Missing> missing(int row, int[] prompt) {
        List<Missing> out = new ArrayList<>();
        long parent = 0;
        for (int from = 0; from + BLOCK <= prompt.length; from += BLOCK) {
            int[] tokens = Arrays.copyOfRange(prompt, from, from + BLOCK);
            long key = key(parent, tokens);
            if (cached(key, parent, tokens) == null) {
                out.add(new Missing(row, from, parent, key, tokens));
            }
            parent = key;
        }
        return out;
    }

    /** The block under {@code key} if it is this prefix's (the key is a hash), else null; a use of it. */
    private Block cached(long key, long parent, int[] tokens) {
        Block b = blocks.get(key);
        return b != null && b.parent() == parent && Arrays.equals(b.tokens(), tokens) ? b : null;
    }

    /** Stores the full blocks of {@code prompt} (row 0 of {@code src}) that are not cached yet. */
    void insert(int[] prompt, Source src) {
        store(missing(0, prompt), src);
    }

    /**
     * Caches the full blocks of each prompt not cached yet, reading them from the prefill's {@code
     * batch} one layer at a time (and not at all when every block is cached already).
     */
    void insertAll(List<int[]> prompts, OrtBatch batch, int kvHeads, int headDim) {
        List<Missing> all = new ArrayList<>();
        for (int r = 0; r < prompts.size(); r++) {
            all.addAll(missing(r, prompts.get(r)));
        }
        if (all.isEmpty()) {
            return;
        }
        float[][] layer = new float[2][]; // one layer's keys and values on the heap at a time
        int[] current = {-1};
        store(all, (l, key, row, from) -> {
            if (current[0] != l) {
                layer[0] = read(batch.keys[l]);
                layer[1] = read(batch.values[l]);
                current[0] = l;
            }
            return slice(layer[key ? 0 : 1], row, prompts.get(row).length, batch.width, from, kvHeads, headDim);
        });
    }

    /** Fills the missing blocks layer by layer (layer outermost), then caches them, leaves evicted first. */
    private void store(List<Missing> missing, Source src) {
        float[][][] k = new float[missing.size()][layers][];
        float[][][] v = new float[missing.size()][layers][];
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < missing.size(); i++) {
                Missing m = missing.get(i);
                k[i][l] = src.copy(l, true, m.row(), m.from());
                v[i][l] = src.copy(l, false, m.row(), m.from());
            }
        }
        List<Long> keys = new ArrayList<>();
        for (int i = 0; i < missing.size(); i++) {
            Missing m = missing.get(i);
            put(m.key(), new Block(m.parent(), m.tokens(), k[i], v[i]));
            keys.add(m.key());
        }
        touchLeafFirst(keys);
    }

    /**
     * Marks a chain used from its last block back to its first, so the first is the most recent: under
     * the budget a chain loses its leaves first, never a root its descendants cannot be found without.
     */
    private void touchLeafFirst(List<Long> chain) {
        for (int i = chain.size() - 1; i >= 0; i--) {
            blocks.get(chain.get(i));
        }
    }

    private static float[] read(ai.onnxruntime.OnnxTensor t) {
        java.nio.FloatBuffer fb = t.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    private void put(long key, Block b) {
        Block old = blocks.put(key, b);
        bytes += b.bytes() - (old == null ? 0 : old.bytes());
        var eldest = blocks.entrySet().iterator();
        while (bytes > budgetBytes && eldest.hasNext()) {
            Block out = eldest.next().getValue();
            eldest.remove();
            bytes -= out.bytes();
        }
    }

    /** Bytes the cached blocks hold. */
    long bytes() {
        return bytes;
    }

    /**
     * One layer's keys (or values) of {@code chain}, [kvHeads, chain.size() * BLOCK, headDim]: the past
     * of a prefill that starts after them.
     */
    static java.nio.FloatBuffer concat(
            List<Block> chain, int layer, boolean key, int kvHeads, int headDim, java.nio.FloatBuffer out) {
        int width = chain.size() * BLOCK;
        for (int h = 0; h < kvHeads; h++) {
            for (int b = 0; b < chain.size(); b++) {
                float[] block = key ? chain.get(b).keys()[layer] : chain.get(b).values()[layer];
                out.put((h * width + b * BLOCK) * headDim, block, h * BLOCK * headDim, BLOCK * headDim);
            }
        }
        return out;
    }

    /**
     * Positions [from, from + BLOCK) of row {@code row} of one layer's right-aligned cache {@code data}
     * ([rows, kvHeads, width, headDim]) whose row holds {@code real} positions: a block's slice.
     */
    static float[] slice(float[] data, int row, int real, int width, int from, int kvHeads, int headDim) {
        float[] out = new float[kvHeads * BLOCK * headDim];
        int start = width - real + from;
        for (int h = 0; h < kvHeads; h++) {
            System.arraycopy(
                    data, ((row * kvHeads + h) * width + start) * headDim, out, h * BLOCK * headDim, BLOCK * headDim);
        }
        return out;
    }

    void recordHits(int tokens) {
        hitTokens.addAndGet(tokens);
    }

    /** Prompt tokens whose KV came from the cache since the engine loaded. */
    long hitTokens() {
        return hitTokens.get();
    }

    /** A 64-bit chain hash (splitmix64 steps over the parent key and the tokens). */
    static long key(long parent, int[] tokens) {
        long h = mix(parent + 0x9E3779B97F4A7C15L);
        for (int t : tokens) {
            h = mix(h ^ (t & 0xffffffffL));
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
