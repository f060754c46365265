package io.rlhf4j.clients.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.eval.ModelLikelihood;
import io.rlhf4j.trainer.eval.TruthfulQa;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TruthfulQA and CrowS-Pairs on stories260K, through the checkpoint and through a real server's echo
 * log-probs: each answer's log-likelihood equals the trainer's own teacher-forced log-probs of it, one
 * sequence at a time, within 1e-4, and the two paths give the same figures.
 */
class TruthfulQaEvalTest {

    @TempDir
    Path tmp;

    @Test
    void theScorersAgreeWithTheTrainersTeacherForcedLogProbsOnTenQuestions() throws Exception {
        Optional<Path> stories = SharedData.file("models/stories260K");
        Optional<Path> csv = SharedData.file("eval/TruthfulQA.csv");
        assumeThat(stories.isPresent() && csv.isPresent())
                .as("shared data absent: skipped")
                .isTrue();
        Path model = tmp.resolve("stories");
        Llama2cImporter.importModel(
                stories.get().resolve("stories260K.bin"), stories.get().resolve("tok512.bin"), model);
        List<TruthfulQa.Question> questions = TruthfulQa.load(csv.get()).subList(0, 10);
        Tokenizer tokenizer = Checkpoint.readTokenizer(model);

        Path export = tmp.resolve("export");
        assertThat(CliTest.run("export", "--model", model.toString(), "--out", export.toString())
                        .code())
                .isZero();
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(model, m);
                io.rlhf4j.serving.ServingApp app = io.rlhf4j.serving.ServingApp.start(
                        io.rlhf4j.serving.ServingApp.Config.defaults(tmp.resolve("data"))
                                .withPort(0))) {
            app.registerAndActivate(export);
            String url = "http://127.0.0.1:" + app.port();
            ServerLikelihood served = new ServerLikelihood(
                    io.rlhf4j.client.Rlhf4jClient.builder().baseUrl(url).build());
            ModelLikelihood batched = new ModelLikelihood(d, tokenizer);
            for (TruthfulQa.Question q : questions) {
                String context = TruthfulQa.Prompt.QA.context(q.question());
                List<String> answers = new ArrayList<>();
                answers.add(" " + q.best());
                q.incorrect().forEach(a -> answers.add(" " + a));
                double[] fromModel = batched.score(context, answers);
                double[] fromServer = served.score(context, answers);
                for (int i = 0; i < answers.size(); i++) {
                    double reference = teacherForced(d, tokenizer, context, answers.get(i));
                    assertThat(fromModel[i]).as(q.question() + answers.get(i)).isCloseTo(reference, within(1e-4));
                    assertThat(fromServer[i]).as(q.question() + answers.get(i)).isCloseTo(reference, within(1e-4));
                }
            }

            CliTest.Run byModel =
                    CliTest.run("eval", "truthfulqa", "--model", model.toString(), "--limit", "3", "--json");
            CliTest.Run byServer = CliTest.run("eval", "truthfulqa", "--server", url, "--limit", "3", "--json");
            assertThat(byModel.code()).as(byModel.err()).isZero();
            assertThat(byServer.code()).as(byServer.err()).isZero();
            JsonNode a = new ObjectMapper().readTree(byModel.out());
            JsonNode b = new ObjectMapper().readTree(byServer.out());
            assertThat(a.get("n").asInt()).isEqualTo(3);
            assertThat(a.get("mc1").asDouble())
                    .isBetween(0.0, 1.0)
                    .isEqualTo(b.get("mc1").asDouble());
            assertThat(a.get("mc2").asDouble()).isCloseTo(b.get("mc2").asDouble(), within(1e-4));
            assertThat(a.get("mc2_low").asDouble())
                    .isLessThanOrEqualTo(a.get("mc2").asDouble());
        }
    }

    /** The sum of the answer's token log-probs from one unpadded forward of context + answer. */
    static double teacherForced(Decoder d, Tokenizer tok, String context, String answer) {
        int[] ctx = tok.encode(context, true);
        int[] all = tok.encode(context + answer, true);
        long[] ids = new long[all.length];
        long[] pos = new long[all.length];
        for (int i = 0; i < all.length; i++) {
            ids[i] = all[i];
            pos[i] = i;
        }
        NDManager m = d.manager();
        float[] logits = d.forward(
                        m.create(ids, new Shape(1, ids.length)),
                        m.create(pos, new Shape(1, ids.length)),
                        null,
                        null,
                        false)
                .toFloatArray();
        int v = d.config().vocabSize();
        double sum = 0;
        for (int p = ctx.length; p < all.length; p++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[(p - 1) * v + j]);
            }
            double z = 0;
            for (int j = 0; j < v; j++) {
                z += Math.exp(logits[(p - 1) * v + j] - max);
            }
            sum += logits[(p - 1) * v + all[p]] - max - Math.log(z);
        }
        return sum;
    }
}
