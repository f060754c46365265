package io.rlhf4j.core.checkpoint;

import io.rlhf4j.core.config.ModelConfig;

/**
 * Refuses a model that cannot fit before any of it is read, naming the bytes it needs, instead of
 * running out of memory halfway through. Weights are read into Java arrays as fp32 (so the JVM's heap
 * must hold them) and then copied to the engine's native memory (so the machine must, too).
 */
public final class MemoryBudget {

    private MemoryBudget() {}

    /** The bytes {@code config}'s weights take as fp32. */
    public static long weightBytes(ModelConfig config) {
        return config.parameterCount() * Float.BYTES;
    }

    /** Throws, with a one-line reason, when {@code where}'s weights cannot fit in this JVM or machine. */
    public static void require(ModelConfig config, String where) {
        long need = weightBytes(config);
        Runtime rt = Runtime.getRuntime();
        long heap = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (need > heap) {
            throw new IllegalStateException(String.format(
                    "%s: its %,d parameters need %s as fp32 weights, more than the %s this JVM can still hold "
                            + "(raise -Xmx through RLHF4J_JAVA_OPTS, if the machine has the memory)",
                    where, config.parameterCount(), gib(need), gib(heap)));
        }
        long available = io.rlhf4j.core.io.ProcMemory.availableBytes();
        if (available > 0 && need > available) {
            throw new IllegalStateException(String.format(
                    "%s: its %,d parameters need %s as fp32 weights, more than the %s of memory available on "
                            + "this machine",
                    where, config.parameterCount(), gib(need), gib(available)));
        }
    }

    private static String gib(long bytes) {
        return String.format("%.1f GiB", bytes / (double) (1L << 30));
    }
}
