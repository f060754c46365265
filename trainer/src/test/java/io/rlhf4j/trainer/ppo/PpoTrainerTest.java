package io.rlhf4j.trainer.ppo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.rm.RewardTrainer;
import io.rlhf4j.trainer.rm.RmConfig;
import io.rlhf4j.trainer.run.RunAssertions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PPO on the demo base model (standing in for SFT) against a reward model that learnt to prefer praise:
 * the mean reward of fresh samples must rise.
 */
class PpoTrainerTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    static Path tmp;

    static Path snapshot;
    static Path rm;

    @BeforeAll
    static void rewardModel() throws Exception {
        snapshot = tmp.resolve("snap");
        Files.createDirectories(snapshot);
        Random r = new Random(5);
        String[] good = {" great", " good", " fine", " nice", " kind", " happy"};
        String[] bad = {" bad", " awful", " poor", " cruel", " sad", " nasty"};
        String[] topics = {"dog", "tree", "house", "river", "song", "book", "city", "horse", "cake", "ship"};
        List<String> rm = new ArrayList<>();
        List<String> ppo = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            String topic = topics[r.nextInt(topics.length)];
            var row = JSON.createObjectNode().put("prompt", "Describe the " + topic + ":");
            row.putArray("completions")
                    .add(good[r.nextInt(good.length)] + " " + topic)
                    .add(bad[r.nextInt(bad.length)] + " " + topic);
            var rank = row.putArray("rankings").addObject().put("labeler", "a");
            rank.putArray("completions").add(0).add(1);
            rank.putArray("ranks").add(0).add(1);
            rm.add(JSON.writeValueAsString(row));
        }
        for (String topic : topics) {
            ppo.add(JSON.writeValueAsString(JSON.createObjectNode().put("prompt", "Describe the " + topic + ":")));
        }
        Files.write(snapshot.resolve("rm.train.jsonl"), rm.subList(0, 40));
        Files.write(snapshot.resolve("rm.validation.jsonl"), rm.subList(40, 48));
        Files.write(snapshot.resolve("ppo.train.jsonl"), ppo);
        Files.write(snapshot.resolve("ppo.validation.jsonl"), ppo);
        PpoTrainerTest.rm = tmp.resolve("rm");
        new RewardTrainer(
                        RmConfig.builder()
                                .epochs(3)
                                .rankingsPerStep(4)
                                .lr(1e-3)
                                .minLr(1e-4)
                                .warmupSteps(3)
                                .weightDecay(0.0)
                                .gradClip(1.0)
                                .evalEvery(100)
                                .seed(3)
                                .build(),
                        QUIET)
                .run(snapshot, BASE, PpoTrainerTest.rm);
    }

    static PpoConfig config(int iterations, double gamma) {
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
