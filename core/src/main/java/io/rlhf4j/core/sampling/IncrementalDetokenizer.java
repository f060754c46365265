package io.rlhf4j.core.sampling;

import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * A completion's text, one token at a time, without decoding the whole sequence again at each step:
 * the scheme of vLLM's incremental detokenization. Two offsets into the tokens are kept: text up to
 * {@code read} has been returned, and the decode window starts at {@code prefix}, a few tokens
 * earlier. A step decodes {@code tokens[prefix:]} and returns what it adds to {@code tokens[prefix:read]}.
 * The look-back gives the tokenizer the context a token's text depends on: SentencePiece drops the
 * space at the start of a text but keeps one after other text, and a character's bytes may be spread
 * over several byte-fallback or byte-level tokens.
 *
 * <p>A decoded window that ends in U+FFFD ends in an incomplete character (or in invalid bytes):
 * the offsets stay, and only the text before that trailing replacement character is returned, once.
 * When the character completes, the rest follows. So the pieces returned add up to the text of the
 * whole completion (decoded with its prompt, minus the prompt's text) for any sequence whose
 * characters complete; {@link #flush} returns what is still held back at the end. A token that adds
 * no text (a special token, an id past the tokenizer's vocabulary) moves nothing either.
 *
 * <p>Each step decodes the window once (plus once more when the offsets move), so its cost does not
 * grow with the prompt or the completion. Only the window's tokens are kept. Not thread-safe.
 */
public final class IncrementalDetokenizer {

    /** Prompt tokens decoded with the first new tokens, as vLLM's initial offset. */
    public static final int LOOK_BACK = 5;

    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    /** The decode window, {@code ids[0, size)}: it starts at vLLM's {@code prefix_offset}. */
    private int[] ids;

    private int size;
    /** Tokens before this one have had their text returned ({@code read_offset}). */
    private int read;
    /** {@code decode(ids[0, read))}, the look-back's text. */
    private String prefixText;
    /** Chars past {@code prefixText} already returned: text before a trailing incomplete character. */
    private int shown;

    /** A detokenizer for a completion of {@code prompt} (which may be empty). */
    public IncrementalDetokenizer(Tokenizer tokenizer, int[] prompt) {
        this.tokenizer = tokenizer;
        int from = Math.max(0, prompt.length - LOOK_BACK);
        // The window must start where the prompt's text can: not inside a character's bytes (they
        // decode as U+FFFD, and a byte-fallback decoder then rejects the whole byte run that the
        // completion's first bytes may continue), and not on tokens with no text at all (SentencePiece
        // would drop the completion's leading space as if nothing came before it).
        for (int back = 0; back < 8 && from > 0; back++) {
            String start = tokenizer.decode(Arrays.copyOfRange(prompt, from, prompt.length));
            if (!start.isEmpty() && start.charAt(0) != REPLACEMENT) {
                break;
            }
            from--;
        }
        this.size = prompt.length - from;
        this.ids = Arrays.copyOfRange(prompt, from, from + Math.max(16, 2 * size));
        this.read = size;
        this.prefixText = decode(0, read);
    }

    /** Takes the next token; returns the text it makes final ("" while a character is incomplete). */
    public String add(int token) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, 2 * size);
        }
        ids[size++] = token;
        String fresh = fresh();
        if (fresh.isEmpty()) {
            return "";
        }
        int complete = fresh.length();
        while (complete > 0 && fresh.charAt(complete - 1) == REPLACEMENT) {
            complete--;
        }
        if (complete < fresh.length()) {
            String out = complete > shown ? fresh.substring(shown, complete) : "";
            shown = Math.max(shown, complete);
            return out;
        }
        String out = fresh.length() > shown ? fresh.substring(shown) : "";
        // The window's text ends on a whole character: it becomes the next step's look-back.
        System.arraycopy(ids, read, ids, 0, size - read);
        size -= read;
        read = size;
        prefixText = decode(0, read);
        shown = 0;
        return out;
    }

    /**
     * The completion ended: the text still held back (an incomplete character, as the tokenizer
     * decodes it: U+FFFD). Tokens added after this continue from there.
     */
    public String flush() {
        String fresh = fresh();
        String out = fresh.length() > shown ? fresh.substring(shown) : "";
        shown = Math.max(shown, fresh.length());
        return out;
    }

    /** What the window's tokens add to the look-back's text; empty when they add nothing yet. */
    private String fresh() {
        String text = decode(0, size);
        // Lengths, not a prefix test, as vLLM: a decoder may rewrite the window's start (a byte run
        // that a later byte makes invalid), and what was returned stands.
        return text.length() > prefixText.length() ? text.substring(prefixText.length()) : "";
    }

    private String decode(int from, int to) {
        return tokenizer.decode(Arrays.copyOfRange(ids, from, to));
    }
}
