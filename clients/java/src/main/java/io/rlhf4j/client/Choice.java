package io.rlhf4j.client;

/**
 * One completion of a prompt, or in a stream one piece of it.
 *
 * @param text the generated text (in a stream: this piece only)
 * @param index which of the {@code n} completions this is
 * @param finishReason {@code stop} (a stop sequence or the end token), {@code length} (max_tokens or the
 *     context window); null on stream pieces before the last
 * @param logprobs per-token log probabilities when requested, else null
 */
public record Choice(String text, int index, String finishReason, Logprobs logprobs) {

    public Choice {
        text = text == null ? "" : text;
    }

    /** Whether this choice (or stream piece) ends its completion. */
    public boolean finished() {
        return finishReason != null;
    }
}
