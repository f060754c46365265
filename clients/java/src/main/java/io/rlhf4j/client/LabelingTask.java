package io.rlhf4j.client;

import java.util.List;

/**
 * A logged prompt handed to this labeler, with K fresh completions of the active policy to rank. The
 * server reserves it for this labeler for a while (ten minutes), so fetch one task at a time and answer it
 * with {@link LabelingClient#rank}, {@link LabelingClient#demonstrate} or {@link LabelingClient#skip}.
 *
 * @param promptId the prompt's id, which every answer names
 * @param prompt the user's prompt
 * @param model the policy version that sampled the completions
 * @param completions the K candidates, in the order to show them
 */
public record LabelingTask(String promptId, String prompt, String model, List<Candidate> completions) {

    public LabelingTask {
        completions = Json.copy(completions);
    }

    /** The candidates' ids in the order given: a starting point for a ranking. */
    public List<String> completionIds() {
        return completions.stream().map(Candidate::id).toList();
    }

    /**
     * One completion to judge.
     *
     * @param id the completion's id, as rankings, scores and flags refer to it
     * @param index its index among all the completions stored for the prompt (the user's logged answer
     *     comes first), so not necessarily its position in this task
     * @param text the completion's text (without the prompt)
     */
    public record Candidate(String id, int index, String text) {}
}
