package io.rlhf4j.trainer.rloo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.rm.PraiseWorld;
import io.rlhf4j.trainer.run.RunAssertions;
import io.rlhf4j.trainer.run.RunDirectory;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RLOO on the praise world from the demo base: the reward model's mean score of fresh samples must rise. */
class RlooTrainerTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");

    @TempDir
    static Path tmp;

    static Path snapshot;
    static Path rm;

    @BeforeAll
    static void world() throws Exception {
        snapshot = PraiseWorld.snapshot(tmp.resolve("snap"));
        rm = PraiseWorld.rewardModel(snapshot, BASE, tmp.resolve("rm"), QUIET);
    }

    static RlooConfig config(int iterations, double gamma) {
        return RlooConfig.builder()
                .iterations(iterations)
                .promptsPerIteration(4)
                .k(4)
                .maxNewTokens(6)
                .beta(0.02)
                .gamma(gamma)
                .ptxBatchSize(4)
                .lr(3e-4)
                .seed(21)
                .build();
    }

    @Test
    void eachSampleIsComparedWithTheMeanOfTheOthers() {
        double[] a = LeaveOneOut.advantages(new double[] {1, 2, 6});
        // 1 - (2 + 6) / 2, 2 - (1 + 6) / 2, 6 - (1 + 2) / 2
        assertThat(a).containsExactly(new double[] {-3, -1.5, 4.5}, within(1e-12));
        assertThat(Arrays.stream(LeaveOneOut.advantages(new double[] {0.3, -1.2, 0.7, 2.0}))
                        .sum())
                .isCloseTo(0, within(1e-12));
        assertThatThrownBy(() -> LeaveOneOut.advantages(new double[] {1})).hasMessageContaining("at least two");
    }

    @Test
    void rlooRaisesTheRewardModelsScore() throws Exception {
        Path out = tmp.resolve("rloo");
        RlooTrainer.Outcome o = new RlooTrainer(config(10, 0), QUIET).run(snapshot, BASE, rm, out, null);
        assertThat(o.rewardAfter()).isGreaterThan(o.rewardBefore() + 0.1);
        List<JsonNode> rows = Files.readAllLines(out.resolve(RunDirectory.METRICS)).stream()
                .map(RlooTrainerTest::json)
                .toList();
        assertThat(rows).hasSize(10).allSatisfy(r -> {
            assertThat(r.get("kl").asDouble()).isFinite();
            assertThat(r.get("generation_share").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("response_length").asDouble()).isBetween(1.0, 7.0);
        });
        JsonNode manifest = JSON.readTree(out.resolve(Layout.TRAINING_MANIFEST).toFile());
        assertThat(manifest.get("kind").asText()).isEqualTo("rloo");
        assertThat(manifest.get("reward_model").asText())
                .isEqualTo(rm.toAbsolutePath().normalize().toString());
        assertThat(manifest.at("/metrics/reward_after").asDouble()).isEqualTo(o.rewardAfter());
    }

    @Test
    void thePretrainingMixIsAddedAndAnInterruptedRunResumes() throws Exception {
        TokenStream ptx =
                TokenStream.of(WordNetCorpus.load(2).train().subList(0, 2000), Checkpoint.readTokenizer(BASE));
        RlooConfig c = config(4, 0.5);
        Path straight = tmp.resolve("ptx");
        new RlooTrainer(c, QUIET).run(snapshot, BASE, rm, straight, ptx);
        assertThat(Files.readAllLines(straight.resolve(RunDirectory.METRICS)))
                .allSatisfy(l -> assertThat(json(l).get("ptx_loss").asDouble()).isPositive());
        Path resumed = tmp.resolve("ptx-resumed");
        RlooTrainer.Outcome partial = new RlooTrainer(c, QUIET).stopAfter(2).run(snapshot, BASE, rm, resumed, ptx);
        assertThat(partial.rewardAfter()).isNaN();
        new RlooTrainer(c, QUIET).run(snapshot, BASE, rm, resumed, ptx);
        RunAssertions.assertResumedLike(straight, resumed);
    }

    @Test
    void oneSamplePerPromptIsRefused() {
        assertThatThrownBy(() -> config(1, 0).with(b -> b.k(1))).hasMessageContaining("k >= 2");
    }

    static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
