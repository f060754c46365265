package io.rlhf4j.serving.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.serving.engine.PolicyEngine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler over an engine that plays back scripted completions, so that what a stream shows can
 * be checked token by token: split stop sequences, characters split over byte tokens, EOS, length.
 */
class SchedulerTest {

    static Tokenizer tokenizer;
    static final int EOS = ByteLevelBpeTrainer.EOS_ID;

    @BeforeAll
    static void tokenizer(@TempDir Path tmp) throws IOException {
        tokenizer = new ByteLevelBpeTrainer(300).train(List.of("the cat sat on the mat"), tmp);
    }

    /** Byte-level tokens of {@code text}, one per byte (ids 3 + byte): a character's bytes split. */
    static int[] bytes(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = 3 + (b[i] & 0xff);
        }
        return ids;
    }

    /** What a choice's sink received. */
    static final class Recorded {
        final List<Sink.Token> tokens = new ArrayList<>();
        final CompletableFuture<String> text = new CompletableFuture<>();
        FinishReason reason;
        int count;

        String streamed() {
            return tokens.stream().map(Sink.Token::delta).reduce("", String::concat);
        }
    }

    static Recorded complete(int[] script, SamplingParams params, int topLogprobs) throws Exception {
        Recorded r = new Recorded();
        int[] prompt = {ByteLevelBpeTrainer.BOS_ID, 3 + 'x'};
        try (Scheduler s = new Scheduler(new ScriptedEngine(script), new Scheduler.Limits(4, 8))) {
            var unused = s.submit(new GenerationRequest(prompt, params, 1, topLogprobs), new Sink() {
                        @Override
                        public void onToken(int choice, Token token) {
                            r.tokens.add(token);
                        }

                        @Override
                        public void onFinish(int choice, String text, FinishReason reason, int tokens) {
                            r.reason = reason;
                            r.count = tokens;
                            r.text.complete(text);
                        }

                        @Override
                        public void onError(Throwable error) {
                            r.text.completeExceptionally(error);
                        }
                    })
                    .orElseThrow();
            r.text.get(10, TimeUnit.SECONDS);
        }
        return r;
    }

    static SamplingParams greedy(int maxTokens, String... stop) {
        return new SamplingParams(maxTokens, 0, 1, 0, List.of(stop), 0L);
    }

    @Test
    void aStopSplitOverTokensIsNeverShownAndEndsTheText() throws Exception {
        Recorded r = complete(bytes("ab##c#d###ef"), greedy(20, "###"), 0);
        assertThat(r.text.get()).isEqualTo("ab##c#d");
        assertThat(r.reason).isEqualTo(FinishReason.STOP);
        assertThat(r.count).isEqualTo(10); // the token that completed the stop counts
        assertThat(r.streamed()).isEqualTo("ab##c#d");
        // Each delta shows exactly what no stop can still take.
        assertThat(r.tokens)
                .extracting(Sink.Token::delta)
                .containsExactly("a", "b", "", "", "##c", "", "#d", "", "", "");
    }

    @Test
    void aCharacterSplitOverByteTokensShowsWhenComplete() throws Exception {
        Recorded r = complete(bytes("a日b"), greedy(5), 0);
        assertThat(r.tokens).extracting(Sink.Token::delta).containsExactly("a", "", "", "日", "b");
        assertThat(r.text.get()).isEqualTo("a日b");
        assertThat(r.reason).isEqualTo(FinishReason.LENGTH);
        assertThat(r.count).isEqualTo(5);
    }

    @Test
    void heldBackTextIsReleasedAtEosAndLength() throws Exception {
        int[] script = Arrays.copyOf(bytes("ok#"), 4);
        script[3] = EOS;
        Recorded eos = complete(script, greedy(20, "##"), 0);
        assertThat(eos.reason).isEqualTo(FinishReason.STOP);
        // EOS is reported and counted, with no text of its own.
        assertThat(eos.count).isEqualTo(4);
        assertThat(eos.tokens).anySatisfy(t -> assertThat(t.id()).isEqualTo(EOS));
        assertThat(eos.streamed()).isEqualTo(eos.text.get()).isEqualTo("ok#");
        assertThat(eos.tokens.get(eos.tokens.size() - 1)).isEqualTo(new Sink.Token(-1, "", "#", 0f, null));
        // A half character at the length limit is final as the tokenizer decodes it.
        Recorded cut = complete(bytes("a日"), greedy(2), 0);
        assertThat(cut.reason).isEqualTo(FinishReason.LENGTH);
        assertThat(cut.streamed()).isEqualTo(cut.text.get()).isEqualTo("a\uFFFD");
    }

    @Test
    void reportsEachTokensLogprobAndItsLikeliestAlternatives() throws Exception {
        Recorded r = complete(bytes("ab"), greedy(2), 3);
        Sink.Token first = r.tokens.get(0);
        assertThat(first.id()).isEqualTo(3 + 'a');
        assertThat(first.text()).isEqualTo("a");
        assertThat(first.logprob()).isNegative();
        // The scripted token, then the lowest ids (the engine's logits fall with the id): BOS and EOS,
        // which both decode to "" and so count once, at the likelier.
        assertThat(first.top())
                .containsExactly(Map.entry("a", first.logprob()), Map.entry("", ScriptedEngine.logprob(0)));
    }

    /** A prefill the engine fails answers its requests with the error, and the scheduler drains at once. */
    @Test
    void aFailedPrefillAnswersItsRequestsAndFreesThem() throws Exception {
        PolicyEngine failing = new ScriptedEngine(bytes("ab")) {
            @Override
            public Step prefill(List<int[]> prompts) {
                throw new IllegalStateException("the engine broke");
            }
        };
        Recorded r = new Recorded();
        Scheduler s = new Scheduler(failing, new Scheduler.Limits(4, 8));
        try {
            var unused = s.submit(
                            new GenerationRequest(new int[] {ByteLevelBpeTrainer.BOS_ID}, greedy(3), 1, 0), new Sink() {
                                @Override
                                public void onToken(int choice, Token token) {}

                                @Override
                                public void onFinish(int choice, String text, FinishReason reason, int tokens) {
                                    r.text.complete(text);
                                }

                                @Override
                                public void onError(Throwable error) {
                                    r.text.completeExceptionally(error);
                                }
                            })
                    .orElseThrow();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> r.text.get(10, TimeUnit.SECONDS))
                    .hasRootCauseMessage("the engine broke");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (s.inFlight() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(s.inFlight())
                    .as("the failed request is no longer in flight")
                    .isZero();
        } finally {
            s.close();
        }
    }

    /**
     * A policy that continues every prompt with {@code script}: the scripted token gets logit 10, the
     * others fall from 0 with their id. A row knows how many tokens it has been fed since its prompt.
     */
    static class ScriptedEngine implements PolicyEngine {
        static final int VOCAB = 300;
        final int[] script;

        ScriptedEngine(int[] script) {
            this.script = script;
        }

        static float[] logits(int next) {
            float[] l = new float[VOCAB];
            for (int i = 0; i < VOCAB; i++) {
                l[i] = -i * 0.01f;
            }
            l[next] = 10;
            return l;
        }

        static float logprob(int id) {
            return io.rlhf4j.core.sampling.Sampler.logprob(logits(3 + 'a'), id);
        }

        record Rows(int[] fed) implements Batch {
            @Override
            public int rows() {
                return fed.length;
            }

            @Override
            public void close() {}
        }

        Step step(int[] fed) {
            float[][] l = new float[fed.length][];
            for (int r = 0; r < fed.length; r++) {
                l[r] = logits(fed[r] < script.length ? script[fed[r]] : EOS);
            }
            return new Step(new Rows(fed), l);
        }

        @Override
        public String version() {
            return "scripted";
        }

        @Override
        public ModelConfig config() {
            return ModelConfig.gpt2(VOCAB, 8, 1, 1, 64).withSpecialTokens(ByteLevelBpeTrainer.BOS_ID, EOS);
        }

        @Override
        public Tokenizer tokenizer() {
            return tokenizer;
        }

        @Override
        public Step prefill(List<int[]> prompts) {
            return step(new int[prompts.size()]);
        }

        @Override
        public Step decode(Batch batch, int[] tokens) {
            int[] fed = ((Rows) batch).fed().clone();
            for (int r = 0; r < fed.length; r++) {
                fed[r]++;
            }
            return step(fed);
        }

        @Override
        public Batch merge(Batch a, int[] aRows, Batch b, int[] bRows) {
            int[] fed = new int[aRows.length + bRows.length];
            for (int i = 0; i < aRows.length; i++) {
                fed[i] = ((Rows) a).fed()[aRows[i]];
            }
            for (int i = 0; i < bRows.length; i++) {
                fed[aRows.length + i] = ((Rows) b).fed()[bRows[i]];
            }
            return new Rows(fed);
        }

        @Override
        public void close() {}
    }
}
