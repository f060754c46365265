package io.rlhf4j.core.store;

import java.util.List;

/**
 * One served request as the trainer will read it: the prompt, who sent it and whether they consent to
 * training, where it came from, the sampling parameters, and every completion with its log-probs.
 */
public record PromptLog(String id, String userId, boolean consent, String source, String text, String modelVersion,
        String paramsJson, long createdAt, List<Completion> completions) {

    public PromptLog {
        completions = List.copyOf(completions);
    }

    /** One completion of the prompt. */
    public record Completion(int index, String text, int tokens, float[] logprobs, String finishReason) {
    }
}
