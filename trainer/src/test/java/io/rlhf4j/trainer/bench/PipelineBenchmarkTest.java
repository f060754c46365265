package io.rlhf4j.trainer.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.rm.RankedExample;
import io.rlhf4j.trainer.sft.SftExample;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline benchmark on the demo base model: a snapshot of the asked lengths, and finite figures. */
class PipelineBenchmarkTest {

    static final Path BASE = Path.of("..", "demo", "base-model");
    static final PipelineBenchmark.Sizes SIZES = new PipelineBenchmark.Sizes(16, 48, 4, 2, 2, 1, 2, 2, 4, 8, 1, 4);
    static final PipelineBenchmark.Sizes TINY = new PipelineBenchmark.Sizes(8, 16, 3, 2, 1, 1, 1, 2, 2, 4, 1, 2);

    @TempDir
    Path tmp;

    @Test
    void theSnapshotHasTheAskedLengthsAndCounts() throws Exception {
        var tokenizer = Checkpoint.readTokenizer(BASE);
        PipelineBenchmark.writeSnapshot(tmp, tokenizer, SIZES);
        var sft = SftExample.load(tmp, "train", tokenizer, 1024);
        assertThat(sft).hasSize(4).allSatisfy(e -> {
            assertThat(e.prompt().length).isBetween(16, 24);
            assertThat(e.completion().length).isBetween(48, 56);
        });
        var rm = RankedExample.load(tmp, "train", tokenizer, 1024);
        assertThat(rm).hasSize(2).allSatisfy(e -> assertThat(e.ranks()).containsExactlyInAnyOrder(0, 1, 2, 3));
        assertThat(RankedExample.load(tmp, "validation", tokenizer, 1024)).hasSize(2);
    }

    /**
     * Each imported family (the numpy-checked HF fixtures) goes through SFT, the reward model and
     * PPO-ptx on the same small snapshot: the stages are family-agnostic, and this keeps them so.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"qwen2", "qwen3", "phi3"})
    void everyImportedFamilyTrainsThroughEveryStage(String family) throws Exception {
        Path hf = Path.of(getClass()
                        .getResource("/hf-reference/" + family + "/config.json")
                        .toURI())
                .getParent();
        Path source = tmp.resolve("hf");
        java.nio.file.Files.createDirectories(source);
        for (String f : java.util.List.of("config.json", "model.safetensors")) {
            java.nio.file.Files.copy(hf.resolve(f), source.resolve(f));
        }
        new io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer(300)
                .train(java.util.List.of("once upon a time there was a little girl named lily"), tmp.resolve("tok"))
                .save(source);
        Path model = tmp.resolve("imported");
        io.rlhf4j.trainer.importer.HfImporter.importDir(source, model);

        PipelineBenchmark.Figures f = new PipelineBenchmark(new PrintStream(new ByteArrayOutputStream(), true))
                .run(family, model, TINY, tmp.resolve("work"));
        assertThat(f.sftTokensPerSecond()).isPositive().isFinite();
        assertThat(f.ppo())
                .hasSize(2)
                .allSatisfy(
                        p -> assertThat(p.rolloutTokensPerSecond()).isPositive().isFinite());
    }

    @Test
    void everyStageReportsAFigure() throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path work = tmp.resolve("work");
        PipelineBenchmark.Figures f =
                new PipelineBenchmark(new PrintStream(printed, true)).run("demo", BASE, TINY, work);
        assertThat(f.sftTokensPerSecond()).isPositive().isFinite();
        assertThat(f.rmComparisonsPerSecond())
                .satisfiesAnyOf(
                        r -> assertThat(r).isPositive().isFinite(),
                        r -> assertThat(r).isNaN()); // the difference of two short runs can drown in noise
        assertThat(f.ppo()).hasSize(2).allSatisfy(s -> {
            assertThat(s.rolloutTokensPerSecond()).isPositive().isFinite();
            assertThat(s.generationShare()).isBetween(0.0, 1.0);
        });
        assertThat(printed.toString()).contains("completion tokens/s", "comparisons/s", "rollout tokens/s");
        assertThat(work).doesNotExist();
    }
}
