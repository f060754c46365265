package io.rlhf4j.core.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StopCheckerTest {

    /** What each append released, then what finish released (when no stop came). */
    static List<String> run(List<String> stops, String... deltas) {
        StopChecker c = new StopChecker(stops);
        List<String> out = new ArrayList<>();
        for (String d : deltas) {
            out.add(c.append(d));
            if (c.stopped()) {
                return out;
            }
        }
        out.add(c.finish());
        return out;
    }

    @Test
    void aStopSplitAcrossStepsIsHeldBackThenCut() {
        assertThat(run(List.of("###"), "ab#", "#", "#c")).containsExactly("ab", "", "");
        StopChecker c = new StopChecker(List.of("###"));
        c.append("ab#");
        c.append("#");
        c.append("#c");
        assertThat(c.stopped()).isTrue();
        assertThat(c.text()).isEqualTo("ab");
    }

    @Test
    void aStopAtTheVeryStartLeavesNoText() {
        StopChecker c = new StopChecker(List.of("\n"));
        assertThat(c.append("\nmore")).isEmpty();
        assertThat(c.stopped()).isTrue();
        assertThat(c.text()).isEmpty();
        assertThat(run(List.of("ab"), "a", "b")).containsExactly("", "");
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        assertThat(run(List.of("cd", "bc"), "abcd")).containsExactly("a");
        // A longer stop that began earlier wins over a shorter one completed in the same step.
        assertThat(run(List.of("d", "bcd"), "ab", "cd")).containsExactly("a", "");
        assertThat(run(List.of("xyz", "y"), "axy")).containsExactly("ax");
    }

    @Test
    void holdsBackOnlyWhatAStopCouldStillTake() {
        // "ab" might begin "abc"; once followed by "a" the first "ab" cannot.
        assertThat(run(List.of("abc"), "ab", "ab", "c")).containsExactly("", "ab", "");
        // The longest tail that begins any stop is held; the rest goes at once.
        assertThat(run(List.of("END", "xx"), "text E", "N", "x", "yz")).containsExactly("text ", "", "EN", "xyz", "");
        // Finishing without a stop releases what was held.
        assertThat(run(List.of("abc"), "xab")).containsExactly("x", "ab");
        assertThat(run(List.of(), "a", "b")).containsExactly("a", "b", "");
    }

    @Test
    void aStoppedTextTakesNoMore() {
        StopChecker c = new StopChecker(List.of("s"));
        c.append("as");
        assertThatThrownBy(() -> c.append("x")).isInstanceOf(IllegalStateException.class);
        assertThat(c.finish()).isEmpty();
        assertThatThrownBy(() -> new StopChecker(List.of(""))).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Random texts over a small alphabet, random stops and random splits: the released pieces are
     * always a prefix of the text before the first stop (nothing a stop cuts is shown), each step
     * releases all that no stop can still take, and together they are that text.
     */
    @Test
    void releasesExactlyWhatABruteForceCheckWould() {
        Random r = new Random(9);
        for (int trial = 0; trial < 3000; trial++) {
            List<String> stops = new ArrayList<>();
            for (int k = r.nextInt(4); k > 0; k--) {
                stops.add(random(r, 1 + r.nextInt(4)));
            }
            String text = random(r, r.nextInt(30));
            StopChecker c = new StopChecker(stops);
            StringBuilder shown = new StringBuilder();
            int at = 0;
            while (at < text.length() && !c.stopped()) {
                int end = Math.min(text.length(), at + 1 + r.nextInt(4));
                shown.append(c.append(text.substring(at, end)));
                at = end;
                assertThat(shown.toString())
                        .as("%s in %s at %d", stops, text, at)
                        .isEqualTo(safe(text.substring(0, at), stops, c.stopped()));
            }
            shown.append(c.finish());
            String cut = cut(text.substring(0, at), stops);
            // (A stop that began earlier but is not complete when another completes does not count:
            // the text ends at the first stop to complete, as in a whole-text check at that step.)
            assertThat(shown.toString()).isEqualTo(cut).isEqualTo(c.text());
        }
    }

    private static String random(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append("abc".charAt(r.nextInt(3)));
        }
        return sb.toString();
    }

    /** The text before the first stop anywhere in it. */
    private static String cut(String text, List<String> stops) {
        int first = text.length();
        for (String s : stops) {
            int i = text.indexOf(s);
            if (i >= 0) {
                first = Math.min(first, i);
            }
        }
        return text.substring(0, first);
    }

    /** What may be shown of {@code text}: cut at a stop, or short of the longest tail a stop begins with. */
    private static String safe(String text, List<String> stops, boolean stopped) {
        String cut = cut(text, stops);
        if (stopped) {
            return cut;
        }
        assertThat(cut).isEqualTo(text);
        int hold = 0;
        for (String s : stops) {
            for (int k = 1; k < s.length() && k <= text.length(); k++) {
                if (text.endsWith(s.substring(0, k))) {
                    hold = Math.max(hold, k);
                }
            }
        }
        return text.substring(0, text.length() - hold);
    }
}
