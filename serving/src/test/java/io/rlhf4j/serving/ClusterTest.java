package io.rlhf4j.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.store.ApiKey;
import io.rlhf4j.core.store.ModelVersion;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.cluster.ClusterOptions;
import io.rlhf4j.trainer.model.Decoder;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three replicas in one JVM on one real PostgreSQL and one shared model directory: promotion and
 * rollback through any replica reach all of them while clients stream to each, a version that cannot be
 * loaded leaves every replica on what it served and shows in {@code /admin/cluster}, and a key's rate
 * limit and revocation hold across replicas.
 */
class ClusterTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final String TOKEN = "cluster-admin";
    /** What the issue asks a promotion to take to reach every replica. */
    static final Duration CONVERGENCE = Duration.ofSeconds(2);
    /**
     * Longer than {@link #CONVERGENCE}: a replica that only polled would miss it, so convergence in
     * time shows PostgreSQL's notices at work.
     */
    static final Duration HEARTBEAT = Duration.ofSeconds(5);

    @TempDir
    static Path tmp;

    static EmbeddedPostgres postgres;
    static final List<ServingApp> replicas = new ArrayList<>();
    static String userKey;
    static String limitedKey;
    static String revokedKey;
    static Path v2;

    @BeforeAll
    static void start() throws Exception {
        postgres = EmbeddedPostgres.builder().start();
        String url = postgres.getJdbcUrl("postgres", "postgres");
        Path demo = TestServers.DEMO;
        Path v1 = TestServers.export(demo, tmp.resolve("v1"), false);
        Path ckpt = tmp.resolve("v2-checkpoint");
        ModelConfig config = Checkpoint.readConfig(demo);
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder d = Decoder.initialise(config, m, 7)) {
            Checkpoint.write(ckpt, config, d.toTensors(), Checkpoint.readTokenizer(demo), null);
        }
        v2 = TestServers.export(ckpt, tmp.resolve("v2"), false);
        try (Store store = Store.open(url, "postgres", "postgres")) {
            userKey = key(store, "streamer", 100_000);
            limitedKey = key(store, "limited", 10);
            revokedKey = key(store, "revoked", 1_000);
        }
        Path models = tmp.resolve("shared-models");
        for (String name : List.of("a", "b", "c")) {
            ServingApp app = ServingApp.start(ServingApp.Config.defaults(tmp.resolve("data-" + name))
                    .withPort(0)
                    .withAdminToken(TOKEN)
                    .withDatabase(url, "postgres", "postgres")
                    .withCluster(ClusterOptions.single()
                            .withModelStore(models.toString())
                            .withReplicaId(name)
                            .withHeartbeat(HEARTBEAT)));
            replicas.add(app);
            if (replicas.size() == 1) {
                app.registerAndActivate(v1); // the others find it active when they start
            }
        }
    }

    @AfterAll
    static void stop() throws Exception {
        replicas.forEach(ServingApp::close);
        if (postgres != null) {
            postgres.close();
        }
    }

    static String key(Store store, String user, int perMinute) {
        String key = ApiKey.generate();
        store.keys()
                .create(new ApiKey(
                        ApiKey.hash(key),
                        ApiKey.prefixOf(key),
                        user,
                        "user",
                        false,
                        perMinute,
                        System.currentTimeMillis(),
                        null));
        return key;
    }

    static String base(ServingApp app) {
        return TestServers.base(app);
    }

    static HttpResponse<String> send(ServingApp app, String method, String path, String body, String bearer)
            throws Exception {
        return TestServers.send(base(app), method, path, body, bearer);
    }

    static JsonNode cluster(ServingApp via) throws Exception {
        HttpResponse<String> r = send(via, "GET", "/admin/cluster", null, TOKEN);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    static String readyVersion(ServingApp app) throws Exception {
        return JSON.readTree(send(app, "GET", "/ready", null, null).body())
                .path("version")
                .asText(null);
    }

    /** Waits until every replica's {@code /ready} names {@code version}; returns how long that took. */
    static Duration awaitAll(String version, Duration limit) throws Exception {
        long started = System.nanoTime();
        while (true) {
            boolean all = true;
            for (ServingApp app : replicas) {
                all &= version.equals(readyVersion(app));
            }
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            if (all || took.compareTo(limit) > 0) {
                return took;
            }
            Thread.sleep(20);
        }
    }

    static void awaitCluster(Predicate<JsonNode> condition, Duration limit) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        JsonNode last = cluster(replicas.get(0));
        while (!condition.test(last) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            last = cluster(replicas.get(0));
        }
        assertThat(condition).as(last.toPrettyString()).accepts(last);
    }

    static TestServers.Streamed stream(ServingApp app) throws Exception {
        return TestServers.stream(
                base(app),
                "{\"prompt\":\"cat (noun):\",\"max_tokens\":16,\"temperature\":0.8,\"stream\":true}",
                userKey);
    }

    @Test
    void promotionAndRollbackThroughAnyReplicaReachEveryReplicaWhileClientsStream() throws Exception {
        ServingApp a = replicas.get(0);
        ServingApp b = replicas.get(1);
        ServingApp c = replicas.get(2);
        assertThat(awaitAll("1", CONVERGENCE)).isLessThanOrEqualTo(CONVERGENCE);
        HttpResponse<String> reg = send(
                a, "POST", "/admin/versions", "{\"path\":\"" + v2.toString().replace("\\", "/") + "\"}", TOKEN);
        assertThat(reg.statusCode()).as(reg.body()).isEqualTo(200);
        String second = JSON.readTree(reg.body()).get("version").asText();

        AtomicBoolean running = new AtomicBoolean(true);
        ConcurrentLinkedQueue<TestServers.Streamed> results = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        ExecutorService clients = Executors.newFixedThreadPool(3);
        for (ServingApp app : replicas) {
            clients.submit(() -> {
                while (running.get()) {
                    try {
                        results.add(stream(app));
                    } catch (Exception e) {
                        errors.add(e);
                    }
                }
            });
        }
        Thread.sleep(500);
        long promotedAt = System.nanoTime();
        HttpResponse<String> promoted = send(b, "POST", "/admin/models/" + second + "/promote", null, TOKEN);
        assertThat(promoted.statusCode()).as(promoted.body()).isEqualTo(200);
        awaitAll(second, CONVERGENCE.multipliedBy(2));
        Duration promotion = Duration.ofNanos(System.nanoTime() - promotedAt);
        Thread.sleep(500);
        long rolledBackAt = System.nanoTime();
        HttpResponse<String> rolledBack = send(c, "POST", "/admin/rollback", null, TOKEN);
        assertThat(rolledBack.statusCode()).as(rolledBack.body()).isEqualTo(200);
        awaitAll("1", CONVERGENCE.multipliedBy(2));
        Duration rollback = Duration.ofNanos(System.nanoTime() - rolledBackAt);
        Thread.sleep(500);
        running.set(false);
        clients.shutdown();
        assertThat(clients.awaitTermination(60, TimeUnit.SECONDS)).isTrue();

        System.out.printf(
                "cluster: promotion through b reached all 3 replicas in %d ms, rollback through c in %d ms%n",
                promotion.toMillis(), rollback.toMillis());
        assertThat(promotion).isLessThanOrEqualTo(CONVERGENCE);
        assertThat(rollback).isLessThanOrEqualTo(CONVERGENCE);
        assertThat(errors).isEmpty();
        Set<String> served = new HashSet<>();
        for (TestServers.Streamed s : results) {
            assertThat(s.status()).isEqualTo(200);
            assertThat(s.done()).as("stream ended with [DONE]").isTrue();
            assertThat(s.models()).as("one version per response").hasSize(1);
            served.addAll(s.models());
        }
        assertThat(served).containsExactlyInAnyOrder("1", second);

        awaitCluster(n -> n.path("converged").asBoolean(), CONVERGENCE);
        JsonNode view = cluster(a);
        assertThat(view.path("active_policy").asText()).isEqualTo("1");
        assertThat(view.path("replicas")).hasSize(3);
        for (JsonNode r : view.path("replicas")) {
            assertThat(r.path("alive").asBoolean()).isTrue();
            assertThat(r.path("policy_version").asText()).isEqualTo("1");
            assertThat(r.path("error").isNull()).isTrue();
        }
    }

    @Test
    void aVersionNoReplicaCanLoadLeavesEachServingWhatItServedAndShowsNotConverged() throws Exception {
        ServingApp a = replicas.get(0);
        ModelVersion damaged = a.registry().register(tmp.resolve("v1"), "1");
        // The shared copy is damaged after registration (a bad disk, a partial sync): its checksum fails.
        try (var out =
                Files.newOutputStream(Path.of(damaged.path()).resolve("policy.onnx"), StandardOpenOption.APPEND)) {
            out.write(new byte[] {1, 2, 3});
        }
        String before = readyVersion(a);
        // Recorded as if promoted by a replica that loaded it before the damage.
        a.store().versions().activate(ModelVersion.POLICY, damaged.version(), System.currentTimeMillis());
        awaitCluster(
                n -> {
                    for (JsonNode r : n.path("replicas")) {
                        if (r.path("error").isNull()) {
                            return false;
                        }
                    }
                    return !n.path("converged").asBoolean();
                },
                CONVERGENCE);
        for (ServingApp app : replicas) {
            assertThat(readyVersion(app)).isEqualTo(before);
            assertThat(stream(app).status()).isEqualTo(200);
        }
        JsonNode view = cluster(replicas.get(1));
        assertThat(view.path("active_policy").asText()).isEqualTo(damaged.version());
        assertThat(view.path("replicas").get(0).path("error").asText()).contains("checksum");

        // Promoting a good version through the API puts every replica back on it, errors cleared.
        HttpResponse<String> fixed = send(replicas.get(2), "POST", "/admin/models/1/promote", null, TOKEN);
        assertThat(fixed.statusCode()).as(fixed.body()).isEqualTo(200);
        awaitCluster(n -> n.path("converged").asBoolean(), CONVERGENCE);
        for (JsonNode r : cluster(a).path("replicas")) {
            assertThat(r.path("error").isNull()).as(r.toString()).isTrue();
        }
    }

    @Test
    void aKeysRateLimitHoldsAcrossReplicasAndARevocationReachesThemAll() throws Exception {
        int ok = 0;
        int limited = 0;
        for (int i = 0; i < 14; i++) {
            ServingApp app = replicas.get(i % 2); // spread over two replicas
            HttpResponse<String> r =
                    send(app, "POST", "/v1/completions", "{\"prompt\":\"dog\",\"max_tokens\":1}", limitedKey);
            if (r.statusCode() == 200) {
                ok++;
            } else {
                assertThat(r.statusCode()).as(r.body()).isEqualTo(429);
                assertThat(r.body()).contains("rate_limit_exceeded");
                limited++;
            }
        }
        assertThat(ok).as("10 requests a minute, counted once for the cluster").isEqualTo(10);
        assertThat(limited).isEqualTo(4);

        for (ServingApp app : replicas) {
            assertThat(send(app, "POST", "/v1/completions", "{\"prompt\":\"dog\",\"max_tokens\":1}", revokedKey)
                            .statusCode())
                    .isEqualTo(200);
        }
        HttpResponse<String> revoked =
                send(replicas.get(0), "DELETE", "/admin/keys/" + ApiKey.prefixOf(revokedKey), null, TOKEN);
        assertThat(revoked.statusCode()).as(revoked.body()).isEqualTo(200);
        long started = System.nanoTime();
        for (ServingApp app : replicas.subList(1, 3)) {
            int status;
            do {
                status = send(app, "POST", "/v1/completions", "{\"prompt\":\"dog\",\"max_tokens\":1}", revokedKey)
                        .statusCode();
                if (status == 200) {
                    Thread.sleep(50);
                }
            } while (status == 200
                    && System.nanoTime() - started < CONVERGENCE.multipliedBy(3).toNanos());
            assertThat(status).isEqualTo(401);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started))
                .as("revocation seen by every replica")
                .isLessThanOrEqualTo(CONVERGENCE);
    }
}
