package io.rlhf4j.client;

import java.util.List;

/**
 * One server-sent event of a streamed chat reply ({@code chat.completion.chunk}): per choice first a delta
 * with the role, then deltas with content, then one with the finish reason; the last chunk of the stream
 * has no choices and carries the {@code usage}.
 *
 * @param id the request's id, the same on every chunk
 * @param object always {@code chat.completion.chunk}
 * @param created seconds since the epoch
 * @param model the version answering
 * @param choices the delta (one choice per chunk; none on the usage chunk)
 * @param usage token counts, on the last chunk only
 */
public record ChatCompletionChunk(
        String id, String object, long created, String model, List<Choice> choices, Usage usage) {

    public ChatCompletionChunk {
        choices = Json.copy(choices);
    }

    /** The content this chunk adds ("" for the role, finish and usage chunks). */
    public String content() {
        StringBuilder b = new StringBuilder();
        choices.forEach(c -> b.append(
                c.delta() == null || c.delta().content() == null
                        ? ""
                        : c.delta().content()));
        return b.toString();
    }

    /** A piece of one reply. */
    public record Choice(int index, Delta delta, String finishReason) {}

    /** What a chunk adds to a reply: the role (first chunk) or content. */
    public record Delta(String role, String content) {}
}
