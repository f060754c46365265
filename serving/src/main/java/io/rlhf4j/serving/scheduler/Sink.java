package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.FinishReason;
import java.util.List;
import java.util.Map;

/**
 * Receives a request's output as it is produced, on the scheduler's thread: implementations hand it
 * to their own thread (an HTTP server's event loop) and return at once.
 */
public interface Sink {

    /**
     * The prompt's tokens scored, before any choice's first token, when the request asked for it: the
     * first token (nothing predicts it) with a NaN log-prob and no alternatives, then one per token.
     */
    default void onPrompt(List<Token> tokens) {}

    /** A piece of choice {@code choice}'s text (possibly empty while a stop sequence is undecided). */
    void onToken(int choice, Token token);

    /** Choice {@code choice} ended; {@code text} is its whole text. */
    void onFinish(int choice, String text, FinishReason reason, int tokens);

    /** The request failed; no more calls follow. */
    void onError(Throwable error);

    /**
     * One generated token: its id, its text (what the stream shows), the model's log-prob of it, and
     * the {@code topLogprobs} likeliest alternatives (token text to log-prob) when asked for.
     */
    record Token(int id, String text, String delta, float logprob, Map<String, Float> top) {}
}
