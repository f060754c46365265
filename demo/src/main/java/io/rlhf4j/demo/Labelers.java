package io.rlhf4j.demo;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Simulated labeler groups ranking K completions. A labeler's utility for a completion is the gold
 * preference, plus its group's taste (small weights on shortness and on style, drawn from the seed: groups
 * disagree a little, systematically), plus Gaussian noise of scale {@link #sigma} (the same for all).
 * {@link #calibrated} picks sigma so that labelers from different groups agree as often as InstructGPT's
 * did (72.6% +/- 1.5%), so the reward model learns from data as noisy as the paper's.
 */
public final class Labelers {

    public static final int DEFAULT_GROUPS = 6;
    public static final double DEFAULT_AGREEMENT = 0.73;
    public static final int LABELERS_PER_GROUP = 4;
    /** Bound of a group's taste weights: small next to gold's spread of about 1 between good and bad. */
    private static final double TASTE = 0.1;

    private static final String PREFIX = "sim-labeler-";
    /** The labelers of the last of the default groups: what the demo holds out of RM training. */
    public static final String HELD_OUT_PREFIX = PREFIX + "group-" + (char) ('a' + DEFAULT_GROUPS - 1);

    /** A prompt with the completions to rank, for calibration and agreement. */
    public record Sample(Task task, List<String> completions) {
        public Sample {
            completions = List.copyOf(completions);
        }
    }

    private final DemoWorld world;
    private final List<String> groups;
    private final double[] shortWeight;
    private final double[] styleWeight;
    private final double sigma;

    /** {@code groups} groups ({@code group-a}, {@code group-b}, ...) with tastes drawn from {@code seed}. */
    public Labelers(DemoWorld world, int groups, double sigma, long seed) {
        if (groups < 2 || groups > 26) {
            throw new IllegalArgumentException("groups must be 2..26, got " + groups);
        }
        if (!(sigma >= 0)) {
            throw new IllegalArgumentException("sigma must be >= 0, got " + sigma);
        }
        this.world = world;
        this.groups = IntStream.range(0, groups)
                .mapToObj(g -> "group-" + (char) ('a' + g))
                .toList();
        this.sigma = sigma;
        Random r = new Random(seed);
        this.shortWeight = new double[groups];
        this.styleWeight = new double[groups];
        for (int g = 0; g < groups; g++) {
            shortWeight[g] = TASTE * (2 * r.nextDouble() - 1);
            styleWeight[g] = TASTE * (2 * r.nextDouble() - 1);
        }
    }

    /**
     * Labelers whose noise is set by bisection on sigma so that {@link #agreement} on {@code sample} is
     * {@code targetAgreement}. Every trial sigma sees the same random draws (seeded by {@code seed}), which
     * makes agreement a deterministic, nearly monotone function of sigma.
     */
    public static Labelers calibrated(
            DemoWorld world, List<Sample> sample, int groups, double targetAgreement, long seed) {
        double lo = 0;
        if (new Labelers(world, groups, lo, seed).agreement(sample, new Random(seed)) < targetAgreement) {
            throw new IllegalArgumentException("the groups' tastes alone agree less than " + targetAgreement);
        }
        double hi = 0.1;
        while (new Labelers(world, groups, hi, seed).agreement(sample, new Random(seed)) > targetAgreement) {
            lo = hi;
            hi *= 2;
            if (hi > 1e3) {
                throw new IllegalArgumentException("no noise brings agreement down to " + targetAgreement
                        + ": too few pairs with different gold in the sample");
            }
        }
        for (int i = 0; i < 30; i++) {
            double mid = (lo + hi) / 2;
            if (new Labelers(world, groups, mid, seed).agreement(sample, new Random(seed)) > targetAgreement) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return new Labelers(world, groups, (lo + hi) / 2, seed);
    }

    public double sigma() {
        return sigma;
    }

    public List<String> groups() {
        return groups;
    }

    /** The last group: its rankings stay out of reward-model training, to test the RM on unseen labelers. */
    public String heldOutGroup() {
        return groups.get(groups.size() - 1);
    }

    /** The labeler ids of one group, e.g. {@code sim-labeler-group-c-0} .. {@code sim-labeler-group-c-3}. */
    public List<String> labelers(String group) {
        if (!groups.contains(group)) {
            throw new IllegalArgumentException("unknown group " + group);
        }
        return IntStream.range(0, LABELERS_PER_GROUP)
                .mapToObj(i -> PREFIX + group + "-" + i)
                .toList();
    }

    public String groupOf(String labelerId) {
        int dash = labelerId.lastIndexOf('-');
        if (labelerId.startsWith(PREFIX) && dash > PREFIX.length()) {
            String group = labelerId.substring(PREFIX.length(), dash);
            if (groups.contains(group) && labelers(group).contains(labelerId)) {
                return group;
            }
        }
        throw new IllegalArgumentException("unknown labeler " + labelerId);
    }

    /**
     * The labeler's ranks of {@code completions} (0 best). Identical texts get one utility, hence one rank;
     * distinct texts always get distinct ranks.
     */
    public int[] rank(String labelerId, Task t, List<String> completions, Random r) {
        int g = groups.indexOf(groupOf(labelerId));
        Map<String, Double> utility = new LinkedHashMap<>();
        for (String c : completions) {
            if (!utility.containsKey(c)) {
                utility.put(c, utility(g, t, c) + sigma * r.nextGaussian());
            }
        }
        List<String> order = new ArrayList<>(utility.keySet());
        order.sort(Comparator.comparingDouble((String c) -> utility.get(c)).reversed());
        return completions.stream().mapToInt(order::indexOf).toArray();
    }

    /**
     * The share of completion pairs with different gold that two labelers from two different groups (drawn
     * per sample) order the same way: InstructGPT's inter-annotator agreement.
     */
    public double agreement(List<Sample> sample, Random r) {
        int same = 0;
        int pairs = 0;
        for (Sample s : sample) {
            int g1 = r.nextInt(groups.size());
            int g2 = (g1 + 1 + r.nextInt(groups.size() - 1)) % groups.size();
            int[] a = rank(labelers(groups.get(g1)).get(r.nextInt(LABELERS_PER_GROUP)), s.task(), s.completions(), r);
            int[] b = rank(labelers(groups.get(g2)).get(r.nextInt(LABELERS_PER_GROUP)), s.task(), s.completions(), r);
            double[] gold = s.completions().stream()
                    .mapToDouble(c -> world.gold(s.task(), c))
                    .toArray();
            for (int i = 0; i < gold.length; i++) {
                for (int j = i + 1; j < gold.length; j++) {
                    if (gold[i] != gold[j]) {
                        pairs++;
                        if (Integer.signum(a[i] - a[j]) == Integer.signum(b[i] - b[j])) {
                            same++;
                        }
                    }
                }
            }
        }
        if (pairs == 0) {
            throw new IllegalArgumentException("the sample has no completion pairs with different gold");
        }
        return (double) same / pairs;
    }

    private double utility(int group, Task t, String completion) {
        // Shortness in (0, 1]: about 0.5 at ten words.
        double shortness = 1 / (1 + DemoWorld.words(completion).size() / 10.0);
        return world.gold(t, completion)
                + shortWeight[group] * shortness
                + styleWeight[group] * world.style(t, completion);
    }
}
