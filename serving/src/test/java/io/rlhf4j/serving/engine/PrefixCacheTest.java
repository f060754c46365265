package io.rlhf4j.serving.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The prefix cache's blocks: chained by prefix, least recently used out first, within the budget. */
class PrefixCacheTest {

    static final int LAYERS = 2;
    static final int KV_HEADS = 1;
    static final int HEAD_DIM = 4;

    /** A prompt of {@code blocks} full blocks whose tokens start at {@code first}. */
    static int[] prompt(int blocks, int first) {
        int[] p = new int[blocks * PrefixCache.BLOCK];
        for (int i = 0; i < p.length; i++) {
            p[i] = first + i;
        }
        return p;
    }

    /** KV whose values name their layer, kind and position, so a block read back can be checked. */
    static final PrefixCache.Source SOURCE = (layer, key, row, from) -> {
        float[] out = new float[KV_HEADS * PrefixCache.BLOCK * HEAD_DIM];
        for (int i = 0; i < out.length; i++) {
            out[i] = layer * 1000 + (key ? 0 : 500) + from + i / HEAD_DIM;
        }
        return out;
    };

    static long blockBytes() {
        PrefixCache probe = new PrefixCache(Long.MAX_VALUE, LAYERS);
        probe.insert(prompt(1, 0), SOURCE);
        return probe.bytes();
    }

    @Test
    void aBlockIsFoundOnlyAfterTheWholePrefixBeforeIt() {
        PrefixCache cache = new PrefixCache(Long.MAX_VALUE, LAYERS);
        int[] p = prompt(3, 10);
        cache.insert(p, SOURCE);
        assertThat(cache.lookup(p, p.length)).hasSize(3);
        assertThat(cache.lookup(p, p.length - 1))
                .as("the last token must still be computed")
                .hasSize(2);
        int[] otherStart = p.clone();
        otherStart[0] = 9999;
        assertThat(cache.lookup(otherStart, p.length)).isEmpty();
        List<PrefixCache.Block> chain = cache.lookup(p, p.length);
        java.nio.FloatBuffer values = PrefixCache.concat(
                chain, 1, false, KV_HEADS, HEAD_DIM, java.nio.FloatBuffer.allocate(3 * PrefixCache.BLOCK * HEAD_DIM));
        // layer 1, values, position 37 (third block) at [0, 37, 0]
        assertThat(values.get(37 * HEAD_DIM)).isEqualTo(1000 + 500 + 32 + 5);
    }

    @Test
    void theLeastRecentlyUsedBlocksLeaveFirstAndTheBudgetHolds() {
        long block = blockBytes();
        PrefixCache cache = new PrefixCache(4 * block, LAYERS);
        int[] a = prompt(2, 0);
        int[] b = prompt(2, 100);
        int[] c = prompt(2, 200);
        cache.insert(a, SOURCE);
        cache.insert(b, SOURCE);
        assertThat(cache.lookup(a, a.length)).hasSize(2); // a is now the more recent
        cache.insert(c, SOURCE);
        assertThat(cache.bytes()).isLessThanOrEqualTo(4 * block);
        assertThat(cache.lookup(b, b.length)).as("least recently used").isEmpty();
        assertThat(cache.lookup(a, a.length)).hasSize(2);
        assertThat(cache.lookup(c, c.length)).hasSize(2);
    }

    /** Over budget a chain loses its last block first: its first stays findable. */
    @Test
    void aChainLosesItsLeavesBeforeItsRoot() {
        long block = blockBytes();
        PrefixCache cache = new PrefixCache(3 * block, LAYERS);
        int[] a = prompt(2, 0);
        cache.insert(a, SOURCE);
        cache.insert(prompt(2, 100), SOURCE);
        assertThat(cache.lookup(a, a.length))
                .as("a's first block survives, its second went")
                .hasSize(1);
    }
}
