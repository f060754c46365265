package io.rlhf4j.core.loop;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.rlhf4j.core.io.Checksums;

/**
 * Which split a user's prompts belong to: train, validation or test, from a hash of the user id, so it
 * is stable and the same for all of a user's prompts. One record for both processes: the dataset
 * builder splits snapshots by it, and the labeling queue keeps test users' prompts out of labeling by
 * it. Serving hands its policy to every training run it starts, so the two cannot drift apart.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SplitPolicy(int validationPercent, int testPercent) {

    public static final String TRAIN = "train";
    public static final String VALIDATION = "validation";
    public static final String TEST = "test";

    /** InstructGPT-like: a tenth of the users each for validation and test. */
    public static final SplitPolicy DEFAULT = new SplitPolicy(10, 10);

    public SplitPolicy {
        if (validationPercent < 0 || testPercent < 0 || validationPercent + testPercent >= 100) {
            throw new IllegalArgumentException("split percentages must be >= 0 and leave some training users, got "
                    + "validation " + validationPercent + "%, test " + testPercent + "%");
        }
    }

    public String splitOf(String userId) {
        int bucket = Integer.parseInt(Checksums.sha256(userId).substring(0, 6), 16) % 100;
        if (bucket < testPercent) {
            return TEST;
        }
        return bucket < testPercent + validationPercent ? VALIDATION : TRAIN;
    }
}
