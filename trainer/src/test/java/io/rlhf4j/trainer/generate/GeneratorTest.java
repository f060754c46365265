package io.rlhf4j.trainer.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.model.Decoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class GeneratorTest {

    static NDManager manager;
    static Tokenizer tokenizer;

    @BeforeAll
    static void setUp(@TempDir Path tmp) throws IOException {
        manager = NDManager.newBaseManager("PyTorch");
        List<String> corpus = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            corpus.add("the cat sat on the mat number " + i + ". a dog ran in the park, and the bird sang.");
        }
        tokenizer = new ByteLevelBpeTrainer(300).train(corpus, tmp);
    }

    @AfterAll
    static void release() {
        manager.close();
    }

    static Stream<ModelConfig> families() {
        return Stream.of(
                ModelConfig.llama(300, 48, 96, 2, 4, 2, 96)
                        .withSpecialTokens(ByteLevelBpeTrainer.BOS_ID, ByteLevelBpeTrainer.EOS_ID),
                ModelConfig.gpt2(300, 48, 2, 4, 96)
                        .withSpecialTokens(ByteLevelBpeTrainer.BOS_ID, ByteLevelBpeTrainer.EOS_ID));
    }

    @ParameterizedTest
    @MethodSource("families")
    void batchedGenerationEqualsOneAtATime(ModelConfig config) {
        List<int[]> prompts = List.of(
                tokenizer.encode("the cat", true),
                tokenizer.encode("a dog ran in the park and then", true),
                tokenizer.encode("", true),
                tokenizer.encode("number 7. the bird", true));
        try (Decoder model = Decoder.initialise(config, manager, 11)) {
            Generator g = new Generator(model, tokenizer);
            for (SamplingParams params :
                    List.of(SamplingParams.greedy(24), new SamplingParams(24, 0.9, 0.95, 40, List.of(), 1234L))) {
                List<Generation> batched = g.generate(prompts, params);
                for (int i = 0; i < prompts.size(); i++) {
                    SamplingParams alone = new SamplingParams(
                            params.maxTokens(),
                            params.temperature(),
                            params.topP(),
                            params.topK(),
                            params.stop(),
                            params.seed() + i);
                    Generation single =
                            g.generate(List.of(prompts.get(i)), alone).get(0);
                    assertThat(batched.get(i).tokens()).as("prompt %d", i).containsExactly(single.tokens());
                    assertThat(batched.get(i).text()).isEqualTo(single.text());
                    assertThat(batched.get(i).finishReason()).isEqualTo(single.finishReason());
                    for (int t = 0; t < single.logprobs().length; t++) {
                        assertThat(batched.get(i).logprobs()[t]).isCloseTo(single.logprobs()[t], within(1e-4f));
                    }
                }
            }
        }
    }

    @Test
    void sameSeedSameCompletionDifferentSeedDifferentCompletion() {
        try (Decoder model = Decoder.initialise(families().findFirst().orElseThrow(), manager, 2)) {
            Generator g = new Generator(model, tokenizer);
            SamplingParams a = new SamplingParams(30, 1.5, 1.0, 0, List.of(), 99L);
            SamplingParams b = new SamplingParams(30, 1.5, 1.0, 0, List.of(), 100L);
            assertThat(g.generate("the cat", a).tokens())
                    .containsExactly(g.generate("the cat", a).tokens());
            assertThat(g.generate("the cat", a).tokens())
                    .isNotEqualTo(g.generate("the cat", b).tokens());
        }
    }

    /** Llama 3.1's config.json lists three EOS ids; generation ends at any of them, not only the first. */
    @Test
    void everyEndOfSequenceIdTheConfigListsEndsTheCompletion(@TempDir Path dir) throws IOException {
        ModelConfig config = families().findFirst().orElseThrow();
        try (Decoder model = Decoder.initialise(config, manager, 4)) {
            int[] greedy = new Generator(model, tokenizer)
                    .generate("a dog", SamplingParams.greedy(20))
                    .tokens();
            var json = config.toJson();
            json.putArray("eos_token_id").add(config.eosTokenId()).add(299).add(greedy[0]);
            new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValue(dir.resolve("config.json").toFile(), json);
            ModelConfig listed = ModelConfig.read(dir);
            assertThat(listed.eosTokenId()).isEqualTo(config.eosTokenId());
            assertThat(listed.moreEosTokenIds()).containsExactly(299, greedy[0]);
            assertThat(ModelConfig.read(dir).toJson().get("eos_token_id").toString())
                    .isEqualTo("[" + config.eosTokenId() + ",299," + greedy[0] + "]");
            try (Decoder same = Decoder.fromTensors(
                    listed,
                    model.toTensors().stream()
                            .collect(java.util.stream.Collectors.toMap(io.rlhf4j.core.checkpoint.Tensor::name, t -> t)),
                    manager,
                    "test")) {
                io.rlhf4j.trainer.generate.Generation g =
                        new Generator(same, tokenizer).generate("a dog", SamplingParams.greedy(20));
                // The greedy first token is now an end of sequence: the completion stops before it.
                assertThat(greedy).hasSize(20);
                assertThat(g.tokens()).isEmpty();
                assertThat(g.finishReason()).isEqualTo(io.rlhf4j.core.sampling.FinishReason.STOP);
            }
        }
    }

    @Test
    void topKOfOneAndTinyTopPAreGreedy() {
        try (Decoder model = Decoder.initialise(families().findFirst().orElseThrow(), manager, 4)) {
            Generator g = new Generator(model, tokenizer);
            int[] greedy = g.generate("a dog", SamplingParams.greedy(20)).tokens();
            assertThat(g.generate("a dog", new SamplingParams(20, 1.0, 1.0, 1, List.of(), 5L))
                            .tokens())
                    .containsExactly(greedy);
            assertThat(g.generate("a dog", new SamplingParams(20, 1.0, 1e-6, 0, List.of(), 6L))
                            .tokens())
                    .containsExactly(greedy);
        }
    }

    @Test
    void logprobsAreTheModelsOwnDistribution() {
        try (Decoder model = Decoder.initialise(families().findFirst().orElseThrow(), manager, 8)) {
            Generation gen = new Generator(model, tokenizer).generate("the", SamplingParams.greedy(5));
            assertThat(gen.logprobs()).hasSize(gen.tokens().length);
            for (float lp : gen.logprobs()) {
                assertThat(lp).isLessThanOrEqualTo(0f).isGreaterThan(-20f);
            }
        }
    }

    @Test
    void stopSequenceEndsTheTextBeforeIt() {
        try (Decoder model = Decoder.initialise(families().findFirst().orElseThrow(), manager, 9)) {
            Generator g = new Generator(model, tokenizer);
            Generation free = g.generate("the cat", SamplingParams.greedy(40).withIgnoreEos(true));
            assertThat(free.text().length()).isGreaterThan(4);
            // Stop on a piece of what the model says anyway, so the stop must fire.
            String stop = free.text().substring(2, 4);
            Generation stopped = g.generate("the cat", new SamplingParams(40, 0, 1, 0, List.of(stop), 0L, true));
            assertThat(stopped.finishReason()).isEqualTo(FinishReason.STOP);
            assertThat(stopped.text())
                    .isEqualTo(free.text().substring(0, free.text().indexOf(stop)));
            assertThat(free.finishReason()).isEqualTo(FinishReason.LENGTH);
            assertThat(free.tokens()).hasSize(40);
        }
    }

    @Test
    void promptsThatFillTheContextWindowAreRefused() {
        try (Decoder model = Decoder.initialise(families().findFirst().orElseThrow(), manager, 1)) {
            Generator g = new Generator(model, tokenizer);
            String longPrompt = "the cat sat on the mat ".repeat(60);
            assertThatThrownBy(() -> g.generate(longPrompt, SamplingParams.greedy(4)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("context window is 96");
            // A prompt that fits stops at the window, with finish reason length.
            int[] nearlyFull = java.util.Arrays.copyOf(tokenizer.encode(longPrompt, true), 90);
            Generation g2 = g.generate(
                            List.of(nearlyFull), SamplingParams.greedy(50).withIgnoreEos(true))
                    .get(0);
            assertThat(g2.tokens()).hasSize(6);
            assertThat(g2.finishReason()).isEqualTo(FinishReason.LENGTH);
        }
    }
}
