package io.rlhf4j.core.sampling;

import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.List;

/**
 * A completion's text as its tokens arrive: decoded incrementally ({@link IncrementalDetokenizer}),
 * then cut before the first stop sequence ({@link StopChecker}). Each step returns only text that is
 * final: no partial character, nothing a stop could still cut. The trainer's generator and the
 * server's scheduler both produce text this way. Not thread-safe.
 */
public final class OutputText {

    private final IncrementalDetokenizer detokenizer;
    private final StopChecker stops;

    public OutputText(Tokenizer tokenizer, int[] prompt, List<String> stop) {
        this.detokenizer = new IncrementalDetokenizer(tokenizer, prompt);
        this.stops = new StopChecker(stop);
    }

    /**
     * Takes the next generated token; returns the text that is final now ("" while a character or
     * a stop sequence is undecided). Once {@link #stopped}, no more tokens may be added.
     */
    public String add(int token) {
        return stops.append(detokenizer.add(token));
    }

    /** A stop sequence ended the text (at the last token added, or at {@link #finish}). */
    public boolean stopped() {
        return stops.stopped();
    }

    /**
     * The completion ended (EOS, length or a stop): returns what was held back, now final. Text held
     * back as an incomplete character can still complete a stop here.
     */
    public String finish() {
        if (stops.stopped()) {
            return "";
        }
        String rest = stops.append(detokenizer.flush());
        return stops.stopped() ? rest : rest + stops.finish();
    }

    /** The text so far; after {@link #finish}, the completion's whole text. */
    public String text() {
        return stops.text();
    }
}
