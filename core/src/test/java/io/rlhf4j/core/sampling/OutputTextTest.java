package io.rlhf4j.core.sampling;

import static io.rlhf4j.core.sampling.IncrementalDetokenizerTest.BOS;
import static io.rlhf4j.core.sampling.IncrementalDetokenizerTest.bytes;
import static io.rlhf4j.core.sampling.IncrementalDetokenizerTest.concat;
import static io.rlhf4j.core.sampling.IncrementalDetokenizerTest.pieces;
import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class OutputTextTest {

    static java.util.stream.Stream<Tokenizer> byteFallback() {
        return IncrementalDetokenizerTest.byteFallback();
    }

    static List<String> steps(OutputText out, int[] tokens) {
        List<String> shown = new ArrayList<>();
        for (int t : tokens) {
            shown.add(out.add(t));
            if (out.stopped()) {
                return shown;
            }
        }
        shown.add(out.finish());
        return shown;
    }

    @ParameterizedTest
    @MethodSource("byteFallback")
    void aStopSpreadOverTokensAndAMultiByteCharacterCutsTheText(Tokenizer tok) {
        OutputText out = new OutputText(tok, concat(BOS, pieces("the")), List.of("t日"));
        // " cat" could be followed by the stop's 日: its "t" is held; then 日's bytes complete the stop.
        assertThat(steps(out, concat(pieces(" cat"), bytes("日"), pieces(" a")))).containsExactly(" ca", "", "", "");
        assertThat(out.stopped()).isTrue();
        assertThat(out.text()).isEqualTo(" ca");
    }

    @ParameterizedTest
    @MethodSource("byteFallback")
    void withoutAStopTheHeldTextIsReleasedAtTheEnd(Tokenizer tok) {
        OutputText out = new OutputText(tok, concat(BOS, pieces("the")), List.of("t日"));
        assertThat(steps(out, concat(pieces(" cat"), bytes("本")))).containsExactly(" ca", "", "", "t本", "");
        assertThat(out.stopped()).isFalse();
        assertThat(out.text()).isEqualTo(" cat本");
        // An incomplete last character is final at the end, as the tokenizer decodes it.
        OutputText half = new OutputText(tok, BOS, List.of("x"));
        assertThat(steps(half, concat(pieces("a"), new int[] {bytes("日")[0]}))).containsExactly("a", "", "\uFFFD");
        assertThat(half.text()).isEqualTo("a\uFFFD");
    }
}
