package io.rlhf4j.trainer.pretrain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.data.WordNetCorpus;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PretrainerTest {

    static WordNetCorpus.Split corpus;
    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    @TempDir
    Path tmp;

    @BeforeAll
    static void loadCorpus() {
        WordNetCorpus.Split all = WordNetCorpus.load(2);
        corpus = new WordNetCorpus.Split(
                all.train().subList(0, 2000), all.validation().subList(0, 100));
    }

    static PretrainConfig tiny(int steps) {
        return tiny(steps, 0.0);
    }

    static PretrainConfig tiny(int steps, double dropout) {
        return PretrainConfig.builder()
                .vocabSize(300)
                .dim(32)
                .hiddenDim(64)
                .layers(2)
                .heads(4)
                .kvHeads(2)
                .seqLen(32)
                .batchSize(4)
                .steps(steps)
                .lr(1e-2)
                .minLr(1e-3)
                .warmupSteps(2)
                .weightDecay(0.1)
                .gradClip(1.0)
                .dropout(dropout)
                .evalEvery(6)
                .evalBatches(2)
                .checkpointEvery(4)
                .validationPercent(2)
                .seed(7)
                .build();
    }

    @Test
    void wordNetCorpusHasGlossesAndExamplesSplitStably() {
        WordNetCorpus.Split all = WordNetCorpus.load(2);
        assertThat(all.train().size() + all.validation().size()).isGreaterThan(100_000);
        assertThat(all.validation().size()).isBetween(1000, 4000);
        assertThat(all.train()).anyMatch(d -> d.startsWith("dog, domestic dog, Canis familiaris (noun): "));
        assertThat(all.train().stream().filter(d -> d.contains("\"")).count()).isGreaterThan(10_000);
        assertThat(WordNetCorpus.load(2).validation()).isEqualTo(all.validation());
    }

    @Test
    void trainingLowersTheLossAndWritesALoadableCheckpoint() throws IOException {
        Path out = tmp.resolve("run");
        Pretrainer.Outcome o = new Pretrainer(tiny(12), out, QUIET).run(corpus);
        List<JsonNode> metrics = metrics(out);
        assertThat(metrics).hasSize(12);
        assertThat(metrics.get(11).get("loss").asDouble())
                .isLessThan(metrics.get(0).get("loss").asDouble() - 0.5);
        assertThat(metrics.get(5).has("val_loss")).isTrue();
        assertThat(o.validationLoss()).isFinite();
        assertThat(Checkpoint.readConfig(out).vocabSize()).isEqualTo(300);
        assertThat(Checkpoint.readTokenizer(out)
                        .decode(Checkpoint.readTokenizer(out).encode("a dog (noun)", false)))
                .isEqualTo("a dog (noun)");
    }

    /** With residual dropout on, so the dropout masks must be reproducible too. */
    @Test
    void anInterruptedRunResumesToTheSameResultAsAnUninterruptedOne() throws IOException {
        PretrainConfig config = tiny(12, 0.1);
        Path straight = tmp.resolve("straight");
        new Pretrainer(config, straight, QUIET).run(corpus);

        Path interrupted = tmp.resolve("interrupted");
        new Pretrainer(config, interrupted, QUIET).stopAfter(6).run(corpus);
        assertThat(metrics(interrupted)).hasSize(6);
        new Pretrainer(config, interrupted, QUIET).run(corpus);

        Map<String, Tensor> a = Checkpoint.readWeights(straight);
        Map<String, Tensor> b = Checkpoint.readWeights(interrupted);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        for (String name : a.keySet()) {
            assertThat(java.util.Arrays.equals(b.get(name).data(), a.get(name).data()))
                    .as(name + " equal")
                    .isTrue();
        }
        List<JsonNode> ma = metrics(straight);
        List<JsonNode> mb = metrics(interrupted);
        Path noDropout = tmp.resolve("no-dropout");
        new Pretrainer(tiny(12), noDropout, QUIET).stopAfter(4).run(corpus);
        assertThat(metrics(noDropout).get(3).get("loss").asDouble())
                .as("dropout is in effect")
                .isNotEqualTo(ma.get(3).get("loss").asDouble());
        assertThat(mb).hasSize(12);
        for (int i = 0; i < 12; i++) {
            assertThat(mb.get(i).get("loss").asDouble())
                    .isEqualTo(ma.get(i).get("loss").asDouble());
        }
    }

    @Test
    void resumingWithADifferentConfigurationIsRefused() throws IOException {
        Path out = tmp.resolve("run");
        new Pretrainer(tiny(12), out, QUIET).stopAfter(4).run(corpus);
        assertThatThrownBy(() -> new Pretrainer(tiny(20), out, QUIET).run(corpus))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("different configuration");
        assertThat(metrics(out)).hasSize(4);
    }

    private static List<JsonNode> metrics(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        return Files.readAllLines(dir.resolve(Pretrainer.METRICS)).stream()
                .filter(l -> !l.isBlank())
                .map(l -> {
                    try {
                        return json.readTree(l);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })
                .toList();
    }
}
