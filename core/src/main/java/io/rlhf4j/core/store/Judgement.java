package io.rlhf4j.core.store;

import java.util.Arrays;
import java.util.List;

/** Labeler judgements on a logged prompt. */
public final class Judgement {

    public static final int MIN_K = 2;
    public static final int MAX_K = 12;

    private Judgement() {}

    /** The InstructGPT labeler interface's metadata flags. */
    public static final List<String> FLAGS = List.of(
            "fails_to_follow_instruction",
            "hallucination",
            "inappropriate_for_customer_assistant",
            "sexual_or_violent",
            "denigrates_protected_class",
            "harmful_advice");

    /** What a labeler said of one ranked completion besides its place: a 1-7 overall score and flags. */
    public record Label(int completion, Integer score, List<String> flags) {
        public Label {
            flags = List.copyOf(flags);
            if (score != null && (score < 1 || score > 7)) {
                throw new IllegalArgumentException("a score is 1..7, got " + score);
            }
            for (String f : flags) {
                if (!FLAGS.contains(f)) {
                    throw new IllegalArgumentException(
                            "unknown flag '" + f + "' (known: " + String.join(", ", FLAGS) + ")");
                }
            }
        }
    }

    /** A demonstration: the answer a labeler wrote for the prompt. */
    public record Demonstration(
            String id, String promptId, String labelerId, String text, String source, long createdAt) {}

    /**
     * A ranking of K of the prompt's completions (by completion index), {@code ranks[i]} the place of
     * {@code completions[i]}: 0 is best, equal places are ties.
     */
    public record Ranking(
            String id,
            String promptId,
            String labelerId,
            List<Integer> completions,
            int[] ranks,
            String source,
            long createdAt) {

        public Ranking {
            completions = List.copyOf(completions);
            ranks = ranks.clone();
            if (completions.size() != ranks.length) {
                throw new IllegalArgumentException("a ranking needs one rank per completion, got " + completions.size()
                        + " completions and " + ranks.length + " ranks");
            }
            if (completions.size() < MIN_K || completions.size() > MAX_K) {
                throw new IllegalArgumentException(
                        "a ranking orders K = " + MIN_K + ".." + MAX_K + " completions, got K = " + completions.size());
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
