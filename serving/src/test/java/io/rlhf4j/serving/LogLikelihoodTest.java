package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.io.SharedData;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.importer.Llama2cImporter;
import io.rlhf4j.trainer.model.Decoder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Log-likelihood requests exactly as lm-evaluation-harness's {@code local-completions} sends them
 * (token ids, {@code echo}, {@code logprobs: 1}, {@code max_tokens: 1}, greedy, a seed), against
 * stories260K (a real pretrained Llama) exported and served: the prompt's log-probs are the trainer's
 * teacher-forced ones, and lm-eval's {@code is_greedy} reading of them is right both ways.
 */
class LogLikelihoodTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path tmp;

    static Path checkpoint;
    static ServingApp app;
    static String base;

    @BeforeAll
    static void start() throws Exception {
        Optional<Path> dir = SharedData.file("models/stories260K");
        assumeThat(dir)
                .as("../shared/data/models/stories260K (shared data absent: skipped)")
                .isPresent();
        checkpoint = tmp.resolve("stories");
        Llama2cImporter.importModel(
                dir.get().resolve("stories260K.bin"), dir.get().resolve("tok512.bin"), checkpoint);
        Path export = TestServers.export(checkpoint, tmp.resolve("export"), false);
        app = ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data")).withPort(0));
        app.registerAndActivate(export);
        base = TestServers.base(app);
    }

    @AfterAll
    static void stop() {
        if (app != null) {
            app.close();
        }
    }

    static JsonNode post(String path, String body) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    static int[] tokenize(String text) throws Exception {
        JsonNode t = post("/tokenize", JSON.writeValueAsString(Map.of("prompt", text)));
        assertThat(t.get("count").asInt()).isEqualTo(t.get("tokens").size());
        assertThat(t.get("max_model_len").asInt()).isEqualTo(512);
        int[] ids = new int[t.get("tokens").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = t.get("tokens").get(i).asInt();
        }
        return ids;
    }

    /** What lm-eval's local-completions posts for one (context, continuation) pair. */
    static JsonNode loglikelihood(int[] ids) throws Exception {
        return post(
                "/v1/completions",
                JSON.writeValueAsString(Map.of(
                        "model",
                        "rlhf4j",
                        "prompt",
                        List.of(ids),
                        "echo",
                        true,
                        "logprobs",
                        1,
                        "max_tokens",
                        1,
                        "temperature",
                        0,
                        "seed",
                        1234)));
    }

    /** lm-eval's parse_logprobs: the continuation's log-prob sum, and whether every token was the top one. */
    record Scored(double logprob, boolean greedy) {}

    static Scored parse(JsonNode choice, int ctxlen) {
        JsonNode lps = choice.at("/logprobs/token_logprobs");
        JsonNode tops = choice.at("/logprobs/top_logprobs");
        double sum = 0;
        boolean greedy = true;
        for (int i = ctxlen; i < lps.size() - 1; i++) {
            sum += lps.get(i).asDouble();
            double best = Double.NEGATIVE_INFINITY;
            for (Iterator<JsonNode> it = tops.get(i).elements(); it.hasNext(); ) {
                best = Math.max(best, it.next().asDouble());
            }
            greedy &= lps.get(i).asDouble() == best;
        }
        return new Scored(sum, greedy);
    }

    /** The trainer's teacher-forced log-prob of each token after the first. */
    static float[] teacherForced(int[] ids) throws Exception {
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.load(checkpoint, m)) {
            PaddedBatch b = PaddedBatch.of(List.of(ids), m);
            NDArray logits = model.forward(b.ids(), b.positions(), b.mask(), null, false);
            NDArray lp = logits.get(new NDIndex(":, :-1"))
                    .logSoftmax(-1)
                    .gather(b.ids().get(new NDIndex(":, 1:")).expandDims(-1), -1)
                    .squeeze(-1);
            return lp.toFloatArray();
        }
    }

    @Test
    void promptLogprobsAreTheTrainersTeacherForcedOnesAndIsGreedyIsRight() throws Exception {
        int[] context = tokenize("Once upon a time, there was a little girl named");
        // The trainer's greedy next token after the context, and the one it ranks second.
        int[] ranked = nextTokensByLikelihood(context);
        int[] greedyCont = {ranked[0]};
        int[] otherCont = {ranked[1], ranked[0]};

        for (int[] cont : List.of(greedyCont, otherCont)) {
            int[] ids = IntStream.concat(Arrays.stream(context), Arrays.stream(cont))
                    .toArray();
            JsonNode choice = loglikelihood(ids).at("/choices/0");
            JsonNode lps = choice.at("/logprobs/token_logprobs");
            // Every prompt token, then the one generated.
            assertThat(lps.size()).isEqualTo(ids.length + 1);
            assertThat(choice.at("/logprobs/tokens").size()).isEqualTo(ids.length + 1);
            assertThat(lps.get(0).isNull()).isTrue();
            assertThat(choice.at("/logprobs/top_logprobs/0").isNull()).isTrue();
            float[] reference = teacherForced(ids);
            for (int i = 1; i < ids.length; i++) {
                assertThat(lps.get(i).asDouble())
                        .as("token %d", i)
                        .isCloseTo(reference[i - 1], org.assertj.core.data.Offset.offset(1e-4));
            }
            // The echoed text is the prompt's, and the offsets walk through it.
            JsonNode offsets = choice.at("/logprobs/text_offset");
            assertThat(offsets.get(0).asInt()).isZero();
            for (int i = 1; i < offsets.size(); i++) {
                assertThat(offsets.get(i).asInt())
                        .isGreaterThanOrEqualTo(offsets.get(i - 1).asInt());
            }
            assertThat(choice.get("text").asText())
                    .startsWith(post("/detokenize", JSON.writeValueAsString(Map.of("tokens", ids)))
                            .get("prompt")
                            .asText());
        }
        JsonNode greedyChoice = loglikelihood(concat(context, greedyCont)).at("/choices/0");
        assertThat(parse(greedyChoice, context.length).greedy())
                .as("%s after %s: %s", Arrays.toString(greedyCont), context.length, greedyChoice)
                .isTrue();
        Scored other = parse(loglikelihood(concat(context, otherCont)).at("/choices/0"), context.length);
        assertThat(other.greedy()).isFalse();
        assertThat(other.logprob())
                .isLessThan(parse(loglikelihood(concat(context, greedyCont)).at("/choices/0"), context.length)
                        .logprob());
    }

    @Test
    void echoWithNoNewTokensScoresThePromptAloneAndBadIdsAreA400() throws Exception {
        int[] ids = tokenize("Lily liked the park.");
        JsonNode choice = post(
                        "/v1/completions",
                        JSON.writeValueAsString(
                                Map.of("prompt", List.of(ids), "echo", true, "logprobs", 0, "max_tokens", 0)))
                .at("/choices/0");
        assertThat(choice.at("/logprobs/token_logprobs").size()).isEqualTo(ids.length);
        assertThat(choice.at("/logprobs/top_logprobs").isNull()).isTrue();
        assertThat(choice.get("finish_reason").asText()).isEqualTo("length");

        HttpResponse<String> bad = HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":[[1, 2, 99999]],\"max_tokens\":1}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).at("/error/param").asText()).isEqualTo("prompt");
        assertThat(JSON.readTree(bad.body()).at("/error/message").asText()).contains("99999");
        JsonNode models = JSON.readTree(HTTP.send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                        HttpResponse.BodyHandlers.ofString())
                .body());
        assertThat(models.at("/data/0/max_model_len").asInt()).isEqualTo(512);
    }

    /** Token ids by the trainer's probability of coming next after {@code context}, likeliest first. */
    static int[] nextTokensByLikelihood(int[] context) throws Exception {
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.load(checkpoint, m)) {
            PaddedBatch b = PaddedBatch.of(List.of(context), m);
            NDArray last =
                    model.forward(b.ids(), b.positions(), b.mask(), null, false).get(new NDIndex("0, -1"));
            float[] logits = last.toFloatArray();
            return IntStream.range(0, logits.length)
                    .boxed()
                    .sorted((x, y) -> Float.compare(logits[y], logits[x]))
                    .mapToInt(Integer::intValue)
                    .toArray();
        }
    }

    static int[] concat(int[] a, int[] b) {
        return IntStream.concat(Arrays.stream(a), Arrays.stream(b)).toArray();
    }
}
