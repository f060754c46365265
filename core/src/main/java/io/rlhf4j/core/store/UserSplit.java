package io.rlhf4j.core.store;

import io.rlhf4j.core.io.Checksums;

/**
 * Which split a user's prompts belong to: train, validation or test, from a hash of the user id, so it
 * is stable and the same for all of a user's prompts. The dataset builder splits by it, and the
 * labeling queue uses it to keep test users' prompts out of labeling.
 */
public final class UserSplit {

    public static final String TRAIN = "train";
    public static final String VALIDATION = "validation";
    public static final String TEST = "test";

    private UserSplit() {
    }

    public static String of(String userId, int validationPercent, int testPercent) {
        int bucket = Integer.parseInt(Checksums.sha256(userId).substring(0, 6), 16) % 100;
        if (bucket < testPercent) {
            return TEST;
        }
        return bucket < testPercent + validationPercent ? VALIDATION : TRAIN;
    }
}
