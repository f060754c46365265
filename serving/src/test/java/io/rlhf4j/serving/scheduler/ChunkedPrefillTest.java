package io.rlhf4j.serving.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.exporter.Exporter;
import io.rlhf4j.serving.engine.EngineOptions;
import io.rlhf4j.serving.engine.OrtEngine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long prompt prefilled a chunk per iteration, between the decode steps of the streams already
 * running, gives the tokens and log-probs of one whole prefill; so do the streams around it.
 */
class ChunkedPrefillTest {

    @TempDir
    static Path tmp;

    static Path export;

    @BeforeAll
    static void exportDemo() throws Exception {
        export = tmp.resolve("export");
        new Exporter(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
                .export(new Exporter.Options(
                        Path.of("..", "demo", "base-model"), export, false, false, 1e-4, 2, 1L << 30, false));
    }

    /** A choice's tokens and log-probs, and its end. */
    static final class Recorded implements Sink {
        final List<Integer> ids = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();
        final CompletableFuture<FinishReason> done = new CompletableFuture<>();

        @Override
        public void onToken(int choice, Token token) {
            if (token.id() >= 0) {
                ids.add(token.id());
                logprobs.add(token.logprob());
            }
        }

        @Override
        public void onFinish(int choice, String text, FinishReason reason, int tokens) {
            done.complete(reason);
        }

        @Override
        public void onError(Throwable error) {
            done.completeExceptionally(error);
        }
    }

    static int[] prompt(int n, int salt) {
        int[] p = new int[n];
        p[0] = 1;
        for (int i = 1; i < n; i++) {
            p[i] = 5 + (i * 31 + salt * 7) % 900;
        }
        return p;
    }

    /** Runs {@code prompts} submitted together (in order) on a scheduler with {@code chunk}. */
    static List<Recorded> run(List<int[]> prompts, int chunk, int prefixCacheMb) throws Exception {
        OrtEngine engine = OrtEngine.load(export, "1", EngineOptions.cpu(0).withPrefixCacheMb(prefixCacheMb));
        List<Recorded> out = new ArrayList<>();
        try (Scheduler s = new Scheduler(engine, new Scheduler.Limits(8, 16, 1.0, chunk))) {
            for (int[] p : prompts) {
                Recorded r = new Recorded();
                var unused = s.submit(new GenerationRequest(p, new SamplingParams(12, 0, 1, 0, List.of(), 0L), 1, 0), r)
                        .orElseThrow();
                out.add(r);
            }
            for (Recorded r : out) {
                r.done.get(60, TimeUnit.SECONDS);
            }
        }
        return out;
    }

    @Test
    void aLongPromptInChunksAmongRunningStreamsComputesWhatWholePrefillsDo() throws Exception {
        // A short stream starts first; the 100-token prompt then goes in 16-token chunks while it runs.
        List<int[]> prompts = List.of(prompt(6, 1), prompt(100, 2), prompt(9, 3));
        List<Recorded> whole = run(prompts, 1024, 0);
        List<Recorded> chunked = run(prompts, 16, 0);
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(chunked.get(i).ids)
                    .as("prompt %d", i)
                    .isEqualTo(whole.get(i).ids)
                    .hasSize(12);
            for (int t = 0; t < whole.get(i).logprobs.size(); t++) {
                assertThat(chunked.get(i).logprobs.get(t))
                        .as("prompt %d token %d", i, t)
                        .isCloseTo(whole.get(i).logprobs.get(t), within(1e-4f));
            }
        }
    }

    /** With the prefix cache, the chunks begin after the cached prefix, and the text is the same. */
    @Test
    void chunksStartAfterACachedPrefix() throws Exception {
        int[] first = prompt(90, 4);
        int[] second = java.util.Arrays.copyOf(first, 100);
        for (int i = 90; i < 100; i++) {
            second[i] = 40 + i;
        }
        List<Recorded> whole = run(List.of(second), 1024, 0);
        OrtEngine engine = OrtEngine.load(export, "1", EngineOptions.cpu(0));
        try (Scheduler s = new Scheduler(engine, new Scheduler.Limits(8, 16, 1.0, 16))) {
            for (int[] p : List.of(first, second)) {
                Recorded r = new Recorded();
                var unused = s.submit(new GenerationRequest(p, new SamplingParams(12, 0, 1, 0, List.of(), 0L), 1, 0), r)
                        .orElseThrow();
                r.done.get(60, TimeUnit.SECONDS);
                if (p == second) {
                    assertThat(r.ids).isEqualTo(whole.get(0).ids);
                    for (int t = 0; t < r.logprobs.size(); t++) {
                        assertThat(r.logprobs.get(t))
                                .isCloseTo(whole.get(0).logprobs.get(t), within(1e-4f));
                    }
                    // 80 of the second prompt's tokens (five blocks) came from the first one's prefill.
                    assertThat(engine.prefixHitTokens()).isEqualTo(80);
                }
            }
        }
    }
}
