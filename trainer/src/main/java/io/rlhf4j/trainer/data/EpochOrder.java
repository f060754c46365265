package io.rlhf4j.trainer.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Which examples make up step {@code step}'s batch: epochs walk a seeded shuffle of the examples, so a
 * batch depends only on (seed, step) and a resumed run sees exactly what an uninterrupted one would.
 */
public final class EpochOrder {

    private EpochOrder() {}

    public static int stepsPerEpoch(int examples, int batchSize) {
        return (examples + batchSize - 1) / batchSize;
    }

    /** Indices (into the examples) of step {@code step}'s batch; the last batch of an epoch may be short. */
    public static int[] batch(int examples, int batchSize, long seed, int step) {
        int perEpoch = stepsPerEpoch(examples, batchSize);
        int epoch = step / perEpoch;
        int[] order = new int[examples];
        for (int i = 0; i < examples; i++) {
            order[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed * 7919 + epoch);
        for (int i = examples - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int from = (step % perEpoch) * batchSize;
        return Arrays.copyOfRange(order, from, Math.min(examples, from + batchSize));
    }
}
