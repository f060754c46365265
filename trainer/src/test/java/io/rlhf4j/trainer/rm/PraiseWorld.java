package io.rlhf4j.trainer.rm;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A small world for the RL stages' tests: prompts "Describe the dog:" and rankings that always put a
 * praising completion above a disparaging one, and a reward model trained on them from the demo base.
 */
public final class PraiseWorld {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PraiseWorld() {}

    /** Writes the snapshot (40 training and 8 validation rankings, 10 PPO prompts) into {@code dir}. */
    public static Path snapshot(Path dir) throws IOException {
        Files.createDirectories(dir);
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
        Files.write(dir.resolve("rm.train.jsonl"), rm.subList(0, 40));
        Files.write(dir.resolve("rm.validation.jsonl"), rm.subList(40, 48));
        Files.write(dir.resolve("ppo.train.jsonl"), ppo);
        Files.write(dir.resolve("ppo.validation.jsonl"), ppo);
        return dir;
    }

    /** Trains the reward model on the snapshot's rankings from {@code base} into {@code out}. */
    public static Path rewardModel(Path snapshot, Path base, Path out, PrintStream log) throws IOException {
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
                        log)
                .run(snapshot, base, out);
        return out;
    }
}
