package io.rlhf4j.core.store;

import java.util.Arrays;
import java.util.List;

/** Labeler judgements on a logged prompt. */
public final class Judgement {

    public static final int MIN_K = 2;
    public static final int MAX_K = 12;

    private Judgement() {
    }

    /** A demonstration: the answer a labeler wrote for the prompt. */
    public record Demonstration(String id, String promptId, String labelerId, String text, String source,
            long createdAt) {
    }

    /**
     * A ranking of K of the prompt's completions (by completion index), {@code ranks[i]} the place of
     * {@code completions[i]}: 0 is best, equal places are ties.
     */
    public record Ranking(String id, String promptId, String labelerId, List<Integer> completions, int[] ranks,
            String source, long createdAt) {

        public Ranking {
            completions = List.copyOf(completions);
            ranks = ranks.clone();
            if (completions.size() != ranks.length) {
                throw new IllegalArgumentException("a ranking needs one rank per completion, got "
                        + completions.size() + " completions and " + ranks.length + " ranks");
            }
            if (completions.size() < MIN_K || completions.size() > MAX_K) {
                throw new IllegalArgumentException("a ranking orders K = " + MIN_K + ".." + MAX_K
                        + " completions, got K = " + completions.size());
            }
            if (completions.stream().distinct().count() != completions.size()) {
                throw new IllegalArgumentException("a ranking names a completion twice: " + completions);
            }
            if (Arrays.stream(ranks).anyMatch(r -> r < 0)) {
                throw new IllegalArgumentException("ranks must be >= 0");
            }
            if (Arrays.stream(ranks).distinct().count() < 2) {
                throw new IllegalArgumentException("a ranking where every completion ties says nothing");
            }
        }
    }
}
