package io.rlhf4j.client;

import java.util.List;

/**
 * One server-sent event of a streamed completion: a piece of one choice's text, tagged with the choice's
 * {@code index}. With {@code n > 1} the pieces of different choices interleave; the last piece of each
 * choice has an empty text and its {@code finishReason}.
 *
 * @param id the request's id, the same on every chunk
 * @param object always {@code text_completion}
 * @param created seconds since the epoch
 * @param model the version answering
 * @param choices the piece (the server sends one choice per chunk)
 */
public record CompletionChunk(String id, String object, long created, String model, List<Choice> choices) {

    public CompletionChunk {
        choices = Json.copy(choices);
    }

    /** The text of the piece ("" when the chunk only finishes a choice). */
    public String text() {
        StringBuilder b = new StringBuilder();
        choices.forEach(c -> b.append(c.text()));
        return b.toString();
    }
}
