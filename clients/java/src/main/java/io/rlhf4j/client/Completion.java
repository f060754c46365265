package io.rlhf4j.client;

import java.util.List;

/**
 * A finished completion, field for field OpenAI's legacy {@code text_completion}, so code written against
 * OpenAI's shape reads it unchanged.
 *
 * @param id the server's id for this request (also the prompt log's key)
 * @param object always {@code text_completion}
 * @param created seconds since the epoch
 * @param model the version that actually answered: record it next to the output, since a promotion
 *     can change the active version between two calls
 * @param choices one per requested completion, in {@code index} order
 * @param usage token counts
 */
public record Completion(String id, String object, long created, String model, List<Choice> choices, Usage usage) {

    public Completion {
        choices = Json.copy(choices);
    }

    /** The first choice's text, the common case of {@code n = 1}; "" when there is no choice. */
    public String text() {
        return choices.isEmpty() ? "" : choices.get(0).text();
    }
}
