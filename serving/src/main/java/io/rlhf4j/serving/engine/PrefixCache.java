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

    /** Copies the keys or values of one row's positions [from, from + BLOCK) of one layer. */
    interface Source {
        float[] copy(int layer, boolean key, int from);
    }

    private final java.util.LinkedHashMap<Long, Block> blocks = new java.util.LinkedHashMap<>(64, 0.75f, true);
    private final long budgetBytes;
    private long bytes;
    private final int layers;
    private final AtomicLong hitTokens = new AtomicLong();
    private final AtomicLong prefilledTokens = new AtomicLong();

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
        long parent = 0;
        for (int from = 0; from + BLOCK <= Math.min(prompt.length, maxTokens); from += BLOCK) {
            int[] tokens = Arrays.copyOfRange(prompt, from, from + BLOCK);
            long key = key(parent, tokens);
            Block b = blocks.get(key); // a use: it becomes the most recent
            // The key is a hash: a block is used only if it really is this prefix's.
            if (b == null || b.parent() != parent || !Arrays.equals(b.tokens(), tokens)) {
                break;
            }
            chain.add(b);
            parent = key;
        }
        return chain;
    }

    /** Stores the full blocks of {@code prompt} that are not cached yet, reading their KV from {@code src}. */
    void insert(int[] prompt, Source src) {
        long parent = 0;
        for (int from = 0; from + BLOCK <= prompt.length; from += BLOCK) {
            int[] tokens = Arrays.copyOfRange(prompt, from, from + BLOCK);
            long key = key(parent, tokens);
            Block have = blocks.get(key);
            if (have == null || have.parent() != parent || !Arrays.equals(have.tokens(), tokens)) {
                float[][] k = new float[layers][];
                float[][] v = new float[layers][];
                for (int l = 0; l < layers; l++) {
                    k[l] = src.copy(l, true, from);
                    v[l] = src.copy(l, false, from);
                }
                put(key, new Block(parent, tokens, k, v));
            }
            parent = key;
        }
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

    /** Caches the full blocks of each prompt not cached yet, reading them from the prefill's {@code batch}. */
    void insertAll(List<int[]> prompts, OrtBatch batch, int kvHeads, int headDim) {
        float[][][] data = new float[2][layers][]; // read out of ONNX Runtime once per layer, if at all
        for (int r = 0; r < prompts.size(); r++) {
            int[] p = prompts.get(r);
            int row = r;
            if (lookup(p, p.length).size() == p.length / BLOCK) {
                continue;
            }
            insert(p, (layer, key, from) -> {
                int kv = key ? 0 : 1;
                if (data[kv][layer] == null) {
                    java.nio.FloatBuffer fb = (key ? batch.keys[layer] : batch.values[layer]).getFloatBuffer();
                    data[kv][layer] = new float[fb.remaining()];
                    fb.get(data[kv][layer]);
                }
                return slice(data[kv][layer], row, p.length, batch.width, from, kvHeads, headDim);
            });
        }
    }

    void record(int reused, int prefilled) {
        hitTokens.addAndGet(reused);
        prefilledTokens.addAndGet(prefilled);
    }

    /** Prompt tokens whose KV came from the cache, and prompt tokens prefilled, since the engine loaded. */
    long hitTokens() {
        return hitTokens.get();
    }

    long prefilledTokens() {
        return prefilledTokens.get();
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
