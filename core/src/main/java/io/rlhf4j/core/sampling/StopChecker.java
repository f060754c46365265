package io.rlhf4j.core.sampling;

import java.util.List;

/**
 * Stop sequences over a text that grows at its end. The text ends before the first stop sequence in
 * it; what may be shown is released as soon as no stop can still cut it: a tail that is the start of
 * a stop is held back until the next text decides. Each append searches only the new text and the
 * {@code stop.length() - 1} characters before it that a stop could begin in, so a step's cost does
 * not grow with the text. Not thread-safe.
 */
public final class StopChecker {

    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    public StopChecker(List<String> stops) {
        this.stops = List.copyOf(stops);
        for (String s : this.stops) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop sequences must not be empty");
            }
        }
    }

    /**
     * Appends {@code delta}; returns the text that may be shown now. When it completes a stop, the
     * text ends before that stop, {@link #stopped} is true and nothing more may be appended.
     */
    public String append(String delta) {
        if (stopped) {
            throw new IllegalStateException("a stop sequence already ended this text");
        }
        int from = text.length();
        text.append(delta);
        int at = firstStop(from);
        if (at >= 0) {
            stopped = true;
            text.setLength(at);
            return release(at);
        }
        return release(text.length() - heldBack());
    }

    /** The text ended without a stop (EOS, length): releases what was held back. */
    public String finish() {
        return release(text.length());
    }

    public boolean stopped() {
        return stopped;
    }

    /** The text so far, cut before the stop once one was found (including what is held back). */
    public String text() {
        return text.toString();
    }

    /** The earliest start of a stop that ends in the text appended at {@code from}, or -1. */
    private int firstStop(int from) {
        int first = -1;
        for (String s : stops) {
            int at = text.indexOf(s, Math.max(0, from - s.length() + 1));
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        return first;
    }

    /** The longest unreleased tail of the text that some stop begins with. */
    private int heldBack() {
        int n = text.length();
        int hold = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, n - released); k > hold; k--) {
                if (endsWithStartOf(s, k)) {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }

    private boolean endsWithStartOf(String stop, int k) {
        int start = text.length() - k;
        for (int i = 0; i < k; i++) {
            if (text.charAt(start + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private String release(int end) {
        if (end <= released) {
            return "";
        }
        String out = text.substring(released, end);
        released = end;
        return out;
    }
}
