package io.rlhf4j.trainer.sft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.run.RunAssertions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SFT of the bundled demo base model on a handful of WordNet-style demonstrations. */
class SftTrainerTest {

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());
    static final Path BASE = Path.of("..", "demo", "base-model");
    static final String[][] TRAIN = {
        {"Give a synonym of big:", " large"}, {"Give a synonym of small:", " little"},
        {"Give an antonym of hot:", " cold"}, {"Give an antonym of up:", " down"},
        {"Give a synonym of quick:", " fast"}, {"Give an antonym of open:", " closed"},
        {"Give a synonym of begin:", " start"}, {"Give an antonym of light:", " dark"}
    };
    static final String[][] VALIDATION = {{"Give a synonym of happy:", " glad"}, {"Give an antonym of old:", " new"}};

    @TempDir
    Path tmp;

    static Path snapshot(Path dir, String[][] train, String[][] validation) throws Exception {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        for (var split : Map.of("train", train, "validation", validation).entrySet()) {
            List<String> lines = new ArrayList<>();
            for (String[] e : split.getValue()) {
                var row = json.createObjectNode().put("prompt", e[0]);
                row.putArray("demonstrations").addObject().put("labeler", "l").put("text", e[1]);
                lines.add(json.writeValueAsString(row));
            }
            Files.write(dir.resolve("sft." + split.getKey() + ".jsonl"), lines);
        }
        return dir;
    }

    @Test
    void sftTeachesTheDemonstrationsAndWritesItsLineage() throws Exception {
        // Validation on the training prompts themselves: selection then keeps the best-learnt checkpoint.
        Path snap = snapshot(tmp.resolve("snap"), TRAIN, TRAIN);
        Path out = tmp.resolve("sft");
        SftConfig config = SftConfig.builder()
                .epochs(30)
                .batchSize(4)
                .lr(3e-3)
                .minLr(3e-4)
                .warmupSteps(5)
                .weightDecay(0.0)
                .gradClip(1.0)
                .dropout(0.0)
                .evalEvery(20)
                .seed(7)
                .build();
        SftTrainer.Outcome o = new SftTrainer(config, QUIET).run(snap, BASE, out);
        assertThat(o.bestValidationLoss()).isLessThan(o.firstValidationLoss());
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(out, m)) {
            Generator g = new Generator(d, Checkpoint.readTokenizer(out));
            int right = 0;
            for (String[] e : TRAIN) {
                right += g.generate(e[0], SamplingParams.greedy(4)).text().equals(e[1]) ? 1 : 0;
            }
            assertThat(right).as("demonstrations reproduced greedily").isGreaterThanOrEqualTo(6);
        }
        JsonNode manifest =
                new ObjectMapper().readTree(out.resolve(SftTrainer.MANIFEST).toFile());
        assertThat(manifest.get("kind").asText()).isEqualTo("sft");
        assertThat(manifest.get("data_snapshot").asText()).endsWith("snap");
        assertThat(manifest.get("parent_weights_sha256").asText()).hasSize(64);
        assertThat(manifest.get("metrics").get("validation_loss_best").asDouble())
                .isEqualTo(o.bestValidationLoss());
    }

    @Test
    void theParentsGenerationConfigTravelsWithTheTrainedModel() throws Exception {
        Path base = tmp.resolve("base");
        Files.createDirectories(base);
        try (var files = Files.list(BASE)) {
            for (Path f : files.toList()) {
                Files.copy(f, base.resolve(f.getFileName()));
            }
        }
        String generation = "{\"bos_token_id\": 0, \"eos_token_id\": [1, 2], \"temperature\": 0.6}";
        Files.writeString(base.resolve(Checkpoint.GENERATION_CONFIG), generation);
        Path out = tmp.resolve("sft");
        SftConfig config = SftConfig.builder()
                .epochs(1)
                .batchSize(4)
                .evalEvery(100)
                .seed(7)
                .build();
        new SftTrainer(config, QUIET).run(snapshot(tmp.resolve("snap"), TRAIN, TRAIN), base, out);
        assertThat(Files.readString(out.resolve(Checkpoint.GENERATION_CONFIG))).isEqualTo(generation);
    }

    @Test
    void anInterruptedRunResumesAndFinishes() throws Exception {
        Path snap = snapshot(tmp.resolve("snap"), TRAIN, VALIDATION);
        SftConfig config = SftConfig.builder()
                .epochs(3)
                .batchSize(3)
                .lr(2e-3)
                .minLr(2e-4)
                .warmupSteps(2)
                .weightDecay(0.01)
                .gradClip(1.0)
                .dropout(0.1)
                .evalEvery(2)
                .seed(11)
                .build();
        Path straight = tmp.resolve("straight");
        new SftTrainer(config, QUIET).run(snap, BASE, straight);
        Path interrupted = tmp.resolve("interrupted");
        new SftTrainer(config, QUIET).stopAfter(4).run(snap, BASE, interrupted);
        new SftTrainer(config, QUIET).run(snap, BASE, interrupted);
        RunAssertions.assertResumedLike(straight, interrupted);
    }

    @Test
    void anEmptySplitIsOneClearError() throws Exception {
        Path snap = snapshot(tmp.resolve("snap"), TRAIN, new String[0][]);
        assertThatThrownBy(() -> new SftTrainer(SftConfig.defaults(), QUIET).run(snap, BASE, tmp.resolve("o")))
                .hasMessageContaining("no SFT validation examples");
        assertThat(tmp.resolve("o")).doesNotExist();
        assertThatThrownBy(() -> new SftTrainer(SftConfig.defaults(), QUIET).run(tmp, BASE, tmp.resolve("o")))
                .hasMessageContaining("not a dataset snapshot");
    }
}
