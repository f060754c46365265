package io.rlhf4j.trainer.rm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.run.RunAssertions;
import io.rlhf4j.trainer.sft.SftExample;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reward model learns a labeler's clear preference (praise over blame) from K = 3 rankings. */
class RewardTrainerTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");
    static final String[] GOOD = {" great", " good", " fine", " nice", " kind", " happy"};
    static final String[] BAD = {" bad", " awful", " poor", " cruel", " sad", " nasty"};
    static final String[] TOPICS = {"dog", "tree", "house", "river", "song", "book", "city", "horse", "cake", "ship"};

    static List<String> rankings(Random r, int n, int topicFrom, int topicTo, String labeler) throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String topic = TOPICS[topicFrom + r.nextInt(topicTo - topicFrom)];
            ObjectNode row = JSON.createObjectNode().put("prompt", "Describe the " + topic + ":");
            row.putArray("completions")
                    .add(GOOD[r.nextInt(GOOD.length)] + " " + topic)
                    .add(" a" + GOOD[r.nextInt(GOOD.length)] + " and" + BAD[r.nextInt(BAD.length)] + " " + topic)
                    .add(BAD[r.nextInt(BAD.length)] + " " + topic);
            ObjectNode rank = row.putArray("rankings").addObject().put("labeler", labeler);
            rank.putArray("completions").add(0).add(1).add(2);
            rank.putArray("ranks").add(0).add(1).add(2);
            lines.add(JSON.writeValueAsString(row));
        }
        return lines;
    }

    static Path snapshot(Path dir) throws Exception {
        Files.createDirectories(dir);
        Random r = new Random(5);
        Files.write(dir.resolve("rm.train.jsonl"), rankings(r, 40, 0, 7, "group-a"));
        List<String> val = new ArrayList<>(rankings(r, 8, 7, 10, "group-a"));
        val.addAll(rankings(r, 8, 7, 10, "held-out-group"));
        Files.write(dir.resolve("rm.validation.jsonl"), val);
        ObjectNode demo = JSON.createObjectNode().put("prompt", "Describe the dog:");
        demo.putArray("demonstrations").addObject().put("labeler", "l").put("text", " a loyal friend");
        Files.write(dir.resolve("sft.train.jsonl"), List.of(JSON.writeValueAsString(demo)));
        return dir;
    }

    @Test
    void learnsThePreferenceBeatsChanceOnHeldOutLabelersAndCentresDemonstrations() throws Exception {
        Path snap = snapshot(tmp.resolve("snap"));
        Path out = tmp.resolve("rm");
        RewardTrainer.Outcome o = new RewardTrainer(
                        RmConfig.builder()
                                .epochs(3)
                                .rankingsPerStep(4)
                                .lr(1e-3)
                                .minLr(1e-4)
                                .warmupSteps(3)
                                .weightDecay(0.0)
                                .gradClip(1.0)
                                .evalEvery(10)
                                .seed(3)
                                .build(),
                        QUIET)
                .run(snap, BASE, out);
        assertThat(o.after().accuracy())
                .isGreaterThan(0.85)
                .isGreaterThan(o.before().accuracy());
        assertThat(o.after().accuracyByLabeler().get("held-out-group")).isGreaterThan(0.8);
        JsonNode manifest = JSON.readTree(out.resolve(RewardTrainer.MANIFEST).toFile());
        assertThat(manifest.get("metrics").get("validation_accuracy").asDouble())
                .isEqualTo(o.after().accuracy());
        assertThat(Checkpoint.readWeights(out)).containsKeys(RewardModel.HEAD_WEIGHT, RewardModel.HEAD_BIAS);
        // Demonstrations score 0 on average after the bias shift.
        Tokenizer tok = Checkpoint.readTokenizer(out);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                RewardModel rm = RewardModel.load(out, m)) {
            List<int[]> demos = SftExample.load(snap, "train", tok, 128).stream()
                    .map(SftExample::tokens)
                    .toList();
            float mean = 0;
            for (float r : RewardTrainer.rewards(rm, demos).toFloatArray()) {
                mean += r / demos.size();
            }
            assertThat(mean).isCloseTo(0f, within(1e-4f));
        }
    }

    @Test
    void anInterruptedRunResumesAndFinishes() throws Exception {
        Path snap = snapshot(tmp.resolve("snap"));
        RmConfig config = RmConfig.builder()
                .epochs(1)
                .rankingsPerStep(4)
                .lr(1e-3)
                .minLr(1e-4)
                .warmupSteps(2)
                .weightDecay(0.0)
                .gradClip(1.0)
                .evalEvery(3)
                .seed(9)
                .build();
        Path straight = tmp.resolve("straight");
        new RewardTrainer(config, QUIET).run(snap, BASE, straight);
        Path interrupted = tmp.resolve("interrupted");
        new RewardTrainer(config, QUIET).stopAfter(5).run(snap, BASE, interrupted);
        new RewardTrainer(config, QUIET).run(snap, BASE, interrupted);
        RunAssertions.assertResumedLike(straight, interrupted);
    }

    @Test
    void noRankingsIsOneClearError() throws Exception {
        Path snap = tmp.resolve("empty");
        Files.createDirectories(snap);
        Files.write(snap.resolve("rm.train.jsonl"), List.of());
        Files.write(snap.resolve("rm.validation.jsonl"), List.of());
        assertThatThrownBy(() -> new RewardTrainer(RmConfig.defaults(), QUIET).run(snap, BASE, tmp.resolve("o")))
                .hasMessageContaining("no reward-model training rankings");
        assertThat(tmp.resolve("o")).doesNotExist();
    }

    @TempDir
    Path tmp;
}
