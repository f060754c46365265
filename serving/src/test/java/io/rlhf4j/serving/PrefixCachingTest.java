package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.serving.engine.EngineOptions;
import io.rlhf4j.serving.engine.OrtEngine;
import io.rlhf4j.serving.engine.PolicyEngine;
import io.rlhf4j.trainer.model.Decoder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prefix caching: a prompt that starts with blocks an earlier prefill computed runs only the rest, and
 * computes what a cold prefill computes; rows with and without hits batch as they do alone; a swapped
 * version starts with an empty cache.
 */
class PrefixCachingTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    static Path export;

    @BeforeAll
    static void exportDemo() throws Exception {
        export = TestServers.export(TestServers.DEMO, tmp.resolve("v1"), false);
    }

    /** A prompt of exactly {@code n} tokens: BOS, then ids the demo's vocabulary has. */
    static int[] prompt(int n, int salt) {
        int[] p = new int[n];
        p[0] = 1;
        for (int i = 1; i < n; i++) {
            p[i] = 5 + (i * 37 + salt * 11) % 900;
        }
        return p;
    }

    @Test
    void aPrefixHitComputesTheLogProbsOfAColdPrefillAndOfTheDecodeStepsAfterIt() throws Exception {
        try (OrtEngine cached = OrtEngine.load(export, "1", EngineOptions.cpu(0));
                OrtEngine cold =
                        OrtEngine.load(export, "1", EngineOptions.cpu(0).withPrefixCacheMb(0))) {
            int[] system = prompt(40, 0); // two full blocks of 16 and the start of a third
            cached.prefill(List.of(system), new boolean[] {true}).batch().close();
            assertThat(cached.prefixHitTokens()).isZero();

            int[] asked = Arrays.copyOf(system, 45);
            asked[40] = 17;
            asked[41] = 230;
            asked[42] = 7;
            asked[43] = 512;
            asked[44] = 99;
            PolicyEngine.Step hit = cached.prefill(List.of(asked), new boolean[] {true});
            assertThat(cached.prefixHitTokens()).as("two blocks reused").isEqualTo(32);
            PolicyEngine.Step full = cold.prefill(List.of(asked), new boolean[] {true});
            assertSameLogProbs(hit.logits()[0], full.logits()[0]);
            for (int token : new int[] {3, 44, 801}) {
                hit = cached.decode(hit.batch(), new int[] {token});
                full = cold.decode(full.batch(), new int[] {token});
                assertSameLogProbs(hit.logits()[0], full.logits()[0]);
            }
            hit.batch().close();
            full.batch().close();
        }
    }

    /**
     * A batch of a row with a prefix hit and a row without one, prefilled together, then decoded while
     * the cold row leaves: each row computes what it computes alone without any cache.
     */
    @Test
    void rowsWithAndWithoutPrefixHitsBatchAsTheyDoAlone() throws Exception {
        try (OrtEngine cached = OrtEngine.load(export, "1", EngineOptions.cpu(0));
                OrtEngine cold =
                        OrtEngine.load(export, "1", EngineOptions.cpu(0).withPrefixCacheMb(0))) {
            int[] warmed = prompt(50, 1);
            cached.prefill(List.of(warmed), new boolean[] {true}).batch().close();
            int[] a = Arrays.copyOf(warmed, 53);
            a[50] = 8;
            a[51] = 9;
            a[52] = 10;
            int[] b = prompt(21, 2); // no block of it is cached
            PolicyEngine.Step both = cached.prefill(List.of(b, a), new boolean[] {true, true});
            assertThat(cached.prefixHitTokens()).isEqualTo(48);
            PolicyEngine.Step aloneA = cold.prefill(List.of(a));
            PolicyEngine.Step aloneB = cold.prefill(List.of(b));
            assertSameLogProbs(both.logits()[0], aloneB.logits()[0]);
            assertSameLogProbs(both.logits()[1], aloneA.logits()[0]);
            both = cached.decode(both.batch(), new int[] {4, 5});
            aloneB = cold.decode(aloneB.batch(), new int[] {4});
            aloneA = cold.decode(aloneA.batch(), new int[] {5});
            assertSameLogProbs(both.logits()[0], aloneB.logits()[0]);
            assertSameLogProbs(both.logits()[1], aloneA.logits()[0]);
            PolicyEngine.Batch onlyA = cached.select(both.batch(), new int[] {1});
            PolicyEngine.Step next = cached.decode(onlyA, new int[] {6});
            aloneA = cold.decode(aloneA.batch(), new int[] {6});
            assertSameLogProbs(next.logits()[0], aloneA.logits()[0]);
            next.batch().close();
            aloneA.batch().close();
            aloneB.batch().close();
        }
    }

    /** Rows not allowed to reuse (a request for prompt log-probs) are prefilled whole, every time. */
    @Test
    void aRowThatMayNotReuseIsPrefilledWholeAndKeepsItsPromptLogits() throws Exception {
        try (OrtEngine cached = OrtEngine.load(export, "1", EngineOptions.cpu(0))) {
            int[] p = prompt(40, 3);
            cached.prefill(List.of(p), new boolean[] {true}).batch().close();
            PolicyEngine.Step again = cached.prefill(List.of(p), new boolean[] {false});
            assertThat(cached.prefixHitTokens()).isZero();
            assertThat(again.prompt().at(0, 5)).hasSize(cached.config().vocabSize());
            again.batch().close();
        }
    }

    /**
     * Through the server: the same long prompt twice reuses its prefix on version 1; after a hot swap
     * to version 2 (other weights), the first request with that prompt reuses nothing (the new engine's
     * cache starts empty), and its text is version 2's.
     */
    @Test
    void aSwappedVersionNeverReusesTheOldVersionsKv() throws Exception {
        Path ckpt = tmp.resolve("v2-checkpoint");
        ModelConfig config = Checkpoint.readConfig(TestServers.DEMO);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 99)) {
            Checkpoint.write(ckpt, config, d.toTensors(), Checkpoint.readTokenizer(TestServers.DEMO), null);
        }
        Path v2 = TestServers.export(ckpt, tmp.resolve("v2"), false);
        String text = "dog (noun): a domesticated carnivorous mammal that typically has a long snout, an acute "
                + "sense of smell, nonretractable claws, and a barking, howling, or whining voice; happy";
        try (ServingApp app =
                ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data")).withPort(0))) {
            app.registerAndActivate(export);
            String base = "http://127.0.0.1:" + app.port();
            complete(base, text);
            complete(base, text);
            assertThat(hits(app)).as("version 1 reuses its own prefix").isPositive();

            app.registerAndActivate(v2);
            assertThat(hits(app)).isZero();
            String afterSwap = complete(base, text);
            assertThat(hits(app)).as("nothing of version 1's KV").isZero();
            complete(base, text);
            assertThat(hits(app)).as("version 2 reuses its own").isPositive();
            try (OrtEngine own = OrtEngine.load(v2, "2", EngineOptions.cpu(0).withPrefixCacheMb(0))) {
                int[] ids = own.tokenizer().encode(text, true);
                PolicyEngine.Step s = own.prefill(List.of(ids));
                String first = own.tokenizer().decode(new int[] {Sampler.argmax(s.logits()[0])});
                s.batch().close();
                assertThat(afterSwap).startsWith(first);
            }
        }
    }

    private static long hits(ServingApp app) {
        return ((OrtEngine) app.router().current().engine()).prefixHitTokens();
    }

    private static String complete(String base, String prompt) throws Exception {
        String body = JSON.writeValueAsString(
                java.util.Map.of("model", "rlhf4j", "prompt", prompt, "max_tokens", 4, "temperature", 0));
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body()).get("choices").get(0).get("text").asText();
    }

    /** Log-softmax of both rows within 1e-4 everywhere. */
    private static void assertSameLogProbs(float[] actual, float[] expected) {
        for (int v = 0; v < expected.length; v++) {
            assertThat(Sampler.logprob(actual, v))
                    .as("token %d", v)
                    .isCloseTo(Sampler.logprob(expected, v), within(1e-4f));
        }
    }
}
