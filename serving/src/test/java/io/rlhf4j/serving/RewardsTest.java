package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.rm.RewardModel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /v1/rewards} against the trainer's own reward-model forward, and under a flood. */
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class RewardsTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path tmp;

    static ServingApp app;
    static String base;
    static Path rewardCheckpoint;

    @BeforeAll
    static void start() throws Exception {
        Path demo = Path.of("..", "demo", "base-model");
        ModelConfig config = Checkpoint.readConfig(demo);
        rewardCheckpoint = tmp.resolve("rm");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.load(demo, m)) {
            List<Tensor> tensors = new ArrayList<>(d.toTensors());
            Random r = new Random(1);
            float[] head = new float[config.hiddenSize()];
            for (int i = 0; i < head.length; i++) {
                head[i] = (float) r.nextGaussian() * 0.1f;
            }
            tensors.add(new Tensor(RewardModel.HEAD_WEIGHT, new long[] {1, config.hiddenSize()}, head));
            tensors.add(new Tensor(RewardModel.HEAD_BIAS, new long[] {1}, new float[] {0.5f}));
            Checkpoint.write(rewardCheckpoint, config, tensors, Checkpoint.readTokenizer(demo), null);
        }
        TestServers.export(rewardCheckpoint, tmp.resolve("rm-export"), true);
        Path policy = TestServers.export(demo, tmp.resolve("policy-export"), false);
        app = ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data")).withPort(0));
        app.registerAndActivate(policy);
        base = "http://127.0.0.1:" + app.port();
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    static HttpResponse<String> rewards(String body) throws Exception {
        return HTTP.send(
                HttpRequest.newBuilder(URI.create(base + "/v1/rewards"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void rewardsMatchTheTrainersRewardModelAndErrorsAreClear() throws Exception {
        String body = "{\"prompt\":\"dog (noun):\",\"completions\":[\" a domestic animal\",\" a tree\",\" bark\"]}";
        HttpResponse<String> none = rewards(body);
        assertThat(none.statusCode()).isEqualTo(404);
        assertThat(none.body()).contains("no reward model is active");

        ModelVersion v = app.registerAndActivate(tmp.resolve("rm-export"));
        assertThat(v.kind()).isEqualTo(ModelVersion.REWARD);
        assertThat(app.router().current().engine().version())
                .as("the policy keeps serving")
                .isEqualTo("1");

        HttpResponse<String> r = rewards(body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode data = JSON.readTree(r.body()).get("data");
        assertThat(data).hasSize(3);
        Tokenizer tok = Checkpoint.readTokenizer(rewardCheckpoint);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                RewardModel rm = RewardModel.load(rewardCheckpoint, m)) {
            String[] completions = {" a domestic animal", " a tree", " bark"};
            for (int i = 0; i < completions.length; i++) {
                int[] ids = tok.encode("dog (noun):" + completions[i], true);
                long[] l = new long[ids.length];
                long[] pos = new long[ids.length];
                long[] mask = new long[ids.length];
                for (int j = 0; j < ids.length; j++) {
                    l[j] = ids[j];
                    pos[j] = j;
                    mask[j] = 1;
                }
                Shape s = new Shape(1, ids.length);
                float expected = rm.rewards(m.create(l, s), m.create(pos, s), m.create(mask, s))
                        .getFloat(0);
                assertThat((float) data.get(i).get("reward").asDouble()).isCloseTo(expected, within(1e-4f));
            }
        }
        assertThat(rewards("{\"prompt\":\"x\",\"completions\":[]}").statusCode())
                .isEqualTo(400);
        assertThat(rewards("{\"prompt\":\"x\",\"completions\":[1]}").statusCode())
                .isEqualTo(400);
        assertThat(rewards("{\"completions\":[\"a\"]}").body()).contains("\"param\":\"prompt\"");
        assertThat(rewards("{\"prompt\":\"x\",\"completions\":[\"a\"],\"model\":\"7\"}")
                        .statusCode())
                .isEqualTo(404);
    }

    @Test
    @org.junit.jupiter.api.Order(2)
    void aFloodOfRewardRequestsIsBoundedAndDoesNotStopCompletions() throws Exception {
        if (app.router().currentReward() == null) {
            app.registerAndActivate(tmp.resolve("rm-export"));
        }
        StringBuilder cs = new StringBuilder();
        for (int i = 0; i < 64; i++) {
            cs.append(i == 0 ? "" : ",")
                    .append("\" a domestic animal that barks and is kept as a pet ")
                    .append(i)
                    .append("\"");
        }
        String flood = "{\"prompt\":\"dog (noun):\",\"completions\":[" + cs + "]}";
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
        // One connection each, as many independent clients would come (HTTP/2 would cap the streams).
        HttpClient clients =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        for (int i = 0; i < 300; i++) {
            sent.add(clients.sendAsync(
                    HttpRequest.newBuilder(URI.create(base + "/v1/rewards"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(flood))
                            .build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> c = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"dog\",\"max_tokens\":2}"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(c.statusCode())
                    .as("completions are admitted during the flood")
                    .isEqualTo(200);
        }
        int ok = 0;
        int busy = 0;
        for (var f : sent) {
            HttpResponse<String> r = f.join();
            if (r.statusCode() == 503) {
                busy++;
                assertThat(r.headers().firstValue("retry-after")).isPresent();
                assertThat(JSON.readTree(r.body()).at("/error/message").asText())
                        .contains("rewards");
            } else {
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                ok++;
            }
        }
        assertThat(busy)
                .as("what did not fit the rewards pool was refused, not queued")
                .isPositive();
        assertThat(ok).isPositive();
    }
}
