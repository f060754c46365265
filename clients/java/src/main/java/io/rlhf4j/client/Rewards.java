package io.rlhf4j.client;

import java.util.List;

/**
 * The active reward model's scores for one prompt's completions. Only differences between the scores of
 * the same prompt mean anything (the model was trained on pairwise comparisons).
 *
 * @param model the reward model's version
 * @param rewards one score per completion, in the order sent
 */
public record Rewards(String model, List<Double> rewards) {

    public Rewards {
        rewards = Json.copy(rewards);
    }
}
