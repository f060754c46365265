package io.rlhf4j.serving.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.rlhf4j.exporter.Exporter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rows joining and leaving a batch must not change what any row computes. */
class OrtEngineTest {

    @TempDir
    static Path tmp;

    static OrtEngine engine;

    @BeforeAll
    static void load() throws Exception {
        Path export = tmp.resolve("export");
        new Exporter(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new Exporter.Options(
                        Path.of("..", "demo", "base-model"), export, false, false, 1e-4, 2, 1L << 30, false));
        engine = OrtEngine.load(export, "1", EngineOptions.cpu(0));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    /** Greedy tokens of one prompt, alone. */
    static float[][] alone(int[] prompt, int[] feed) {
        PolicyEngine.Step s = engine.prefill(List.of(prompt));
        float[][] out = new float[feed.length + 1][];
        out[0] = s.logits()[0];
        PolicyEngine.Batch b = s.batch();
        for (int i = 0; i < feed.length; i++) {
            s = engine.decode(b, new int[] {feed[i]});
            b = s.batch();
            out[i + 1] = s.logits()[0];
        }
        b.close();
        return out;
    }

    @Test
    void aRowComputesTheSameLogitsAloneAfterJoiningAndAfterOthersLeave() {
        int[] a = engine.tokenizer().encode("dog (noun):", true);
        int[] b = engine.tokenizer().encode("happy (adjective): the state of", true);
        int[] c = engine.tokenizer().encode("x", true);
        int[] feed = {5, 9, 300, 17, 42, 8};
        float[][] expected = alone(a, feed);

        // a alone for two steps, then b and c join (a longer prompt than a's cache), then c leaves.
        PolicyEngine.Step s = engine.prefill(List.of(a));
        PolicyEngine.Batch batch = s.batch();
        s = engine.decode(batch, new int[] {feed[0]});
        assertClose(s.logits()[0], expected[1]);
        s = engine.decode(s.batch(), new int[] {feed[1]});
        assertClose(s.logits()[0], expected[2]);
        PolicyEngine.Step joined = engine.prefill(List.of(b, c));
        batch = engine.merge(s.batch(), new int[] {0}, joined.batch(), new int[] {0, 1});
        s = engine.decode(batch, new int[] {feed[2], 11, 12});
        assertClose(s.logits()[0], expected[3]);
        batch = engine.select(s.batch(), new int[] {0, 1});
        s = engine.decode(batch, new int[] {feed[3], 13});
        assertClose(s.logits()[0], expected[4]);
        batch = engine.select(s.batch(), new int[] {1, 0});
        s = engine.decode(batch, new int[] {14, feed[4]});
        assertClose(s.logits()[1], expected[5]);
        s.batch().close();
    }

    static void assertClose(float[] actual, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("logit %d", i).isCloseTo(expected[i], within(1e-4f));
        }
    }

    @Test
    void aShortPromptPrefilledBesideALongOneComputesWhatItDoesAlone() {
        int[] shortPrompt = engine.tokenizer().encode("dog (noun):", true);
        int[] longPrompt = engine.tokenizer().encode("happy (adjective): the state of being glad and", true);
        int[] feed = {5, 9, 300};
        float[][] expected = alone(shortPrompt, feed);
        PolicyEngine.Step s = engine.prefill(List.of(longPrompt, shortPrompt));
        assertClose(s.logits()[1], expected[0]);
        for (int i = 0; i < feed.length; i++) {
            s = engine.decode(s.batch(), new int[] {7, feed[i]});
            assertClose(s.logits()[1], expected[i + 1]);
        }
        s.batch().close();
    }

    /**
     * A prefill that needs no prompt logits asks the graph for the last position's only
     * ({@code logits_from}); they are the last row of a full prefill's, and the prompt logits are gone.
     */
    @Test
    void aPrefillWithoutPromptLogitsComputesTheSameNextTokenLogits() {
        int[] p = engine.tokenizer().encode("tree (noun): a tall plant with a trunk and", true);
        int[] q = engine.tokenizer().encode("red (adjective): the colour", true);
        PolicyEngine.Step full = engine.prefill(List.of(p, q));
        PolicyEngine.Step last = engine.prefill(List.of(p, q), new boolean[] {true, true});
        assertClose(last.logits()[0], full.logits()[0]);
        assertClose(last.logits()[1], full.logits()[1]);
        assertClose(full.prompt().at(0, p.length - 1), full.logits()[0]);
        assertThat(last.prompt()).isNull();
        full.batch().close();
        last.batch().close();
    }

    /** The GPU engines' code path is there; on a CPU build it fails in one line naming what is missing. */
    @Test
    void gpuEnginesFailClearlyOnACpuBuild() {
        for (String kind : new String[] {EngineOptions.CUDA, EngineOptions.TENSORRT}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(
                            () -> OrtEngine.load(tmp.resolve("export"), "1", new EngineOptions(kind, 0, 0)))
                    .isInstanceOf(java.io.IOException.class)
                    .hasMessageContaining("engine " + kind + " is unavailable")
                    .hasMessageContaining("-Pcuda");
        }
    }
}
