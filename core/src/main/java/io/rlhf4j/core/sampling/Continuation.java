package io.rlhf4j.core.sampling;

import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * The text a completion adds to its prompt. Decoding prompt and completion together and removing the
 * prompt's text keeps the tokenizer's spacing rules: a leading space after BOS is dropped, one in the
 * middle of a text is kept.
 */
public final class Continuation {

    private Continuation() {
    }

    public static String text(Tokenizer tokenizer, int[] prompt, int[] generated) {
        int[] all = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, all, prompt.length, generated.length);
        String head = tokenizer.decode(prompt);
        String whole = tokenizer.decode(all);
        return whole.startsWith(head) ? whole.substring(head.length()) : tokenizer.decode(generated);
    }
}
