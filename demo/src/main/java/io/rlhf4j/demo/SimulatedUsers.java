package io.rlhf4j.demo;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * The users of the deployed API in the demo: many user ids, each asking its own mix of task kinds, so
 * per-user caps and splits by user id (as in InstructGPT's dataset) change what the data holds. Everything
 * follows from the seed. Not thread-safe: one caller draws from it.
 */
public final class SimulatedUsers {

    /** One prompt as the API logged it. */
    public record Prompt(String userId, Task task) {}

    private final DemoWorld world;
    private final List<String> ids;
    private final double[][] mix;
    private final Random random;

    public SimulatedUsers(DemoWorld world, int users, long seed) {
        if (users < 1) {
            throw new IllegalArgumentException("users must be >= 1, got " + users);
        }
        this.world = world;
        this.ids = IntStream.range(0, users)
                .mapToObj(i -> String.format("sim-user-%04d", i))
                .toList();
        this.random = new Random(seed);
        TaskKind[] kinds = TaskKind.values();
        this.mix = new double[users][kinds.length];
        for (double[] m : mix) {
            // Normalised exponential draws: a flat Dirichlet, so some users mostly ask for definitions,
            // others mostly for sentences, and so on.
            double sum = 0;
            for (int k = 0; k < kinds.length; k++) {
                m[k] = -Math.log(1 - random.nextDouble());
                sum += m[k];
            }
            for (int k = 0; k < kinds.length; k++) {
                m[k] /= sum;
            }
        }
    }

    public List<String> users() {
        return ids;
    }

    /** The share of each task kind in {@code userId}'s prompts. */
    public Map<TaskKind, Double> mix(String userId) {
        int u = ids.indexOf(userId);
        if (u < 0) {
            throw new IllegalArgumentException("unknown user " + userId);
        }
        Map<TaskKind, Double> out = new EnumMap<>(TaskKind.class);
        for (TaskKind k : TaskKind.values()) {
            out.put(k, mix[u][k.ordinal()]);
        }
        return Collections.unmodifiableMap(out);
    }

    /** The next prompt: a user drawn uniformly, a kind from that user's mix, a task of that kind. */
    public Prompt next() {
        int u = random.nextInt(ids.size());
        double x = random.nextDouble();
        TaskKind[] kinds = TaskKind.values();
        int k = 0;
        while (k < kinds.length - 1 && (x -= mix[u][k]) >= 0) {
            k++;
        }
        List<Task> pool = world.tasks(kinds[k]);
        return new Prompt(ids.get(u), pool.get(random.nextInt(pool.size())));
    }
}
