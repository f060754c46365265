package io.rlhf4j.client;

import java.util.List;

/**
 * A finished chat reply, field for field OpenAI's {@code chat.completion}.
 *
 * @param id the server's id for this request
 * @param object always {@code chat.completion}
 * @param created seconds since the epoch
 * @param model the version that actually answered
 * @param choices one per requested reply, in {@code index} order
 * @param usage token counts
 */
public record ChatCompletion(String id, String object, long created, String model, List<Choice> choices, Usage usage) {

    public ChatCompletion {
        choices = Json.copy(choices);
    }

    /** The first reply's text; "" when there is none. */
    public String content() {
        return choices.isEmpty() || choices.get(0).message() == null
                ? ""
                : choices.get(0).message().content();
    }

    /** One reply: the assistant's message and why it ended. */
    public record Choice(int index, ChatMessage message, String finishReason) {}
}
