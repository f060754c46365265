package io.rlhf4j.trainer.ppo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.rm.PraiseWorld;
import io.rlhf4j.trainer.run.RunAssertions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PPO on the demo base model (standing in for SFT) against a reward model that learnt to prefer praise:
 * the mean reward of fresh samples must rise.
 */
public class PpoTrainerTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    static Path tmp;

    static Path snapshot;
    static Path rm;

    @BeforeAll
    static void rewardModel() throws Exception {
        snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        rm = PraiseWorld.rewardModel(snapshot, BASE, tmp.resolve("rm"), QUIET);
    }

    public static PpoConfig config(int iterations, double gamma) {
        return PpoConfig.builder()
                .iterations(iterations)
                .rolloutsPerIteration(10)
                .maxNewTokens(6)
                .ppoEpochs(2)
                .minibatchSize(5)
                .lr(3e-4)
                .valueLr(3e-4)
                .beta(0.02)
                .klTarget(0.0)
                .gamma(gamma)
                .ptxBatchSize(4)
                .discount(1.0)
                .lambda(0.95)
                .clipRange(0.2)
                .valueClipRange(0.2)
                .gradClip(1.0)
                .seed(21)
                .build();
    }

    @Test
    void ppoRaisesTheRewardModelsScore() throws Exception {
        PpoTrainer.Outcome o = new PpoTrainer(config(10, 0.0), QUIET).run(snapshot, BASE, rm, tmp.resolve("ppo"), null);
        assertThat(o.rewardAfter()).isGreaterThan(o.rewardBefore() + 0.1);
        assertThat(o.iterations()).hasSize(10);
        assertThat(o.iterations()).allSatisfy(s -> {
            assertThat(s.kl()).isFinite();
            assertThat(s.clipFraction()).isBetween(0.0, 1.0);
            assertThat(s.generationShare()).isBetween(0.0, 1.0);
        });
        assertThat(Files.readString(tmp.resolve("ppo").resolve(PpoTrainer.MANIFEST)))
                .contains("reward_after");
    }

    @Test
    void ptxAddsThePretrainingLossAndAnInterruptedRunResumes() throws Exception {
        WordNetCorpus.Split corpus = WordNetCorpus.load(2);
        TokenStream ptx = TokenStream.of(corpus.train().subList(0, 2000), Checkpoint.readTokenizer(BASE));
        PpoConfig c = config(4, 0.5);
        Path straight = tmp.resolve("ptx");
        PpoTrainer.Outcome o = new PpoTrainer(c, QUIET).run(snapshot, BASE, rm, straight, ptx);
        assertThat(o.iterations()).allSatisfy(s -> assertThat(s.ptxLoss()).isPositive());
        Path resumed = tmp.resolve("ptx-resumed");
        new PpoTrainer(c, QUIET).stopAfter(2).run(snapshot, BASE, rm, resumed, ptx);
        new PpoTrainer(c, QUIET).run(snapshot, BASE, rm, resumed, ptx);
        RunAssertions.assertResumedLike(straight, resumed);
    }

    @Test
    void aRewardModelWithAnotherTokenizerIsRefused() throws Exception {
        Path other = tmp.resolve("other-rm");
        Files.createDirectories(other);
        for (String f : List.of("config.json", "model.safetensors", "generation_config.json")) {
            Files.copy(rm.resolve(f), other.resolve(f));
        }
        new io.rlhf4j.core.tokenizer.ByteLevelBpeTrainer(300).train(List.of("another tokenizer"), other);
        assertThatThrownBy(() -> new PpoTrainer(config(1, 0), QUIET).run(snapshot, BASE, other, tmp.resolve("x"), null))
                .hasMessageContaining("tokenizer differs");
        assertThat(tmp.resolve("x")).doesNotExist();
    }
}
