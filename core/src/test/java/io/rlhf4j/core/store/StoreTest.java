package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The same behaviour on the embedded default (SQLite) and on a real PostgreSQL server. */
class StoreTest {

    static EmbeddedPostgres postgres;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void startPostgres() throws IOException {
        postgres = EmbeddedPostgres.builder().start();
    }

    @AfterAll
    static void stopPostgres() throws IOException {
        postgres.close();
    }

    static Stream<String> databases() {
        return Stream.of("sqlite", "postgresql");
    }

    private static int counter;

    static Store open(String kind) {
        if (kind.equals("sqlite")) {
            return Store.openSqlite(tmp.resolve("db-" + (counter++)));
        }
        String db = "t" + (counter++);
        try (var c = postgres.getPostgresDatabase().getConnection(); var s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        return Store.open(postgres.getJdbcUrl("postgres", db), "postgres", "postgres");
    }

    static PromptLog log(String id, String user, int completions) {
        List<PromptLog.Completion> cs = new ArrayList<>();
        for (int i = 0; i < completions; i++) {
            cs.add(new PromptLog.Completion(i, "answer " + i, 3, new float[] {-0.5f, -1.25f, -2f}, "stop"));
        }
        return new PromptLog(id, user, true, "api", "define: dog", "1", "{\"temperature\":0.7}", 1000L + id.hashCode() % 100,
                cs);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void promptsWithUserIdsAndCompletionsRoundTrip(String kind) {
        try (Store store = open(kind)) {
            store.log(List.of(log("p1", "alice", 4), log("p2", "bob", 1)));
            List<PromptLog> read = store.prompts(10);
            assertThat(read).hasSize(2);
            PromptLog alice = read.stream().filter(p -> p.userId().equals("alice")).findFirst().orElseThrow();
            assertThat(alice.completions()).hasSize(4);
            assertThat(alice.completions().get(2).logprobs()).containsExactly(-0.5f, -1.25f, -2f);
            assertThat(alice.consent()).isTrue();
            assertThat(alice.paramsJson()).isEqualTo("{\"temperature\":0.7}");
            assertThat(store.countPrompts()).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aFailedBatchStoresNothingAndLosesNothingAlreadyStored(String kind) {
        try (Store store = open(kind)) {
            store.log(List.of(log("p1", "alice", 1)));
            // p1 again violates the primary key: the whole batch rolls back.
            assertThatThrownBy(() -> store.log(List.of(log("p2", "bob", 1), log("p1", "carol", 1))))
                    .isInstanceOf(Store.StoreException.class);
            assertThat(store.countPrompts()).isEqualTo(1);
            assertThat(store.prompts(10).get(0).userId()).isEqualTo("alice");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void versionsAndTheActiveOne(String kind) {
        try (Store store = open(kind)) {
            store.registerVersion(new ModelVersion("1", ModelVersion.POLICY, null, "/r/1", "{}", ModelVersion.REGISTERED, 1));
            store.registerVersion(new ModelVersion("2", ModelVersion.POLICY, "1", "/r/2", "{}", ModelVersion.REGISTERED, 2));
            assertThat(store.active(ModelVersion.POLICY)).isEmpty();
            store.activate(ModelVersion.POLICY, "2", 3);
            store.activate(ModelVersion.POLICY, "1", 4);
            assertThat(store.active(ModelVersion.POLICY)).contains("1");
            assertThat(store.activationHistory(ModelVersion.POLICY)).containsExactly("2", "1");
            assertThatThrownBy(() -> store.unregister("1")).hasMessageContaining("is active");
            store.unregister("2");
            assertThat(store.version("2").orElseThrow().state()).isEqualTo(ModelVersion.UNREGISTERED);
            assertThat(store.versions()).extracting(ModelVersion::version).containsExactly("1", "2");
            assertThat(store.version("2").orElseThrow().parent()).isEqualTo("1");
            assertThatThrownBy(() -> store.activate(ModelVersion.POLICY, "9", 5)).isInstanceOf(Store.StoreException.class);
            assertThat(store.active(ModelVersion.POLICY)).contains("1");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void theLogWriterCommitsConcurrentRequestsInGroups(String kind) throws Exception {
        try (Store store = open(kind); LogWriter writer = new LogWriter(store, 1000, 64)) {
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                acks.add(writer.submit(log("req-" + i, "user-" + (i % 7), 2)));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get();
            // Acknowledged means stored.
            assertThat(store.countPrompts()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void keysAreStoredHashedAndCanBeRevoked(String kind) {
        try (Store store = open(kind)) {
            String key = ApiKey.generate();
            assertThat(key).startsWith("rk-").hasSize(46);
            store.createKey(new ApiKey(ApiKey.hash(key), ApiKey.prefixOf(key), "alice", "user", false, 60, 1, null));
            assertThat(store.countActiveKeys()).isEqualTo(1);
            ApiKey found = store.findKey(ApiKey.hash(key)).orElseThrow();
            assertThat(found.userId()).isEqualTo("alice");
            assertThat(found.revoked()).isFalse();
            assertThat(found.hash()).isNotEqualTo(key).hasSize(64);
            assertThat(store.findKey(ApiKey.hash(key + "x"))).isEmpty();
            assertThat(store.revokeKeys(ApiKey.prefixOf(key), 2)).isEqualTo(1);
            assertThat(store.findKey(ApiKey.hash(key)).orElseThrow().revoked()).isTrue();
            assertThat(store.countActiveKeys()).isZero();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void aBadLogFailsAloneAndNulCharactersAreStored(String kind) throws Exception {
        try (Store store = open(kind); LogWriter writer = new LogWriter(store, 100, 64)) {
            store.log(List.of(log("taken", "alice", 1)));
            PromptLog nul = new PromptLog("nul", "bob", true, "api", "a\u0000b", "1", "{}", 5,
                    List.of(new PromptLog.Completion(0, "x\u0000", 1, null, "stop")));
            CompletableFuture<Void> good = writer.submit(log("fresh", "carol", 1));
            CompletableFuture<Void> bad = writer.submit(log("taken", "mallory", 1));
            CompletableFuture<Void> withNul = writer.submit(nul);
            good.get();
            withNul.get();
            assertThatThrownBy(bad::get).hasCauseInstanceOf(Store.StoreException.class);
            assertThat(store.countPrompts()).isEqualTo(3);
            PromptLog stored = store.prompts(10).stream().filter(p -> p.id().equals("nul")).findFirst().orElseThrow();
            assertThat(stored.text()).isEqualTo("a\uFFFDb");
        }
    }

    @org.junit.jupiter.api.Test
    void unsupportedUrlsAreRefused() {
        assertThatThrownBy(() -> Store.open("jdbc:mysql://x/y", null, null))
                .hasMessageContaining("unsupported database URL");
    }

    @ParameterizedTest
    @MethodSource("databases")
    void labelingCompletionsLabelsSkipsAndTheQueue(String kind) {
        try (Store store = open(kind)) {
            store.log(List.of(log("p1", "alice", 1), log("p2", "bob", 0)));
            List<PromptLog.Completion> fresh = store.addCompletions("p1", "2", List.of(
                    new PromptLog.Completion(0, "a", 1, null, "stop"), new PromptLog.Completion(0, "b", 1, null, "length")),
                    2000);
            assertThat(fresh).extracting(PromptLog.Completion::index).containsExactly(1, 2);
            assertThat(store.prompt("p1").orElseThrow().completions()).hasSize(3);
            assertThat(store.labelingCandidates("lee", 10)).extracting(PromptLog::id).containsExactly("p1", "p2");

            store.addRanking(new Judgement.Ranking("r1", "p1", "lee", List.of(0, 1, 2), new int[] {1, 0, 1}, "labeling",
                    3000), List.of(new Judgement.Label(1, 7, List.of()), new Judgement.Label(2, null,
                    List.of("hallucination", "harmful_advice"))));
            assertThat(store.labels("r1")).containsExactly(new Judgement.Label(1, 7, List.of()),
                    new Judgement.Label(2, null, List.of("hallucination", "harmful_advice")));
            store.addSkip("p2", "lee", "unclear", 3000);
            store.addSkip("p2", "lee", "again", 3001);
            assertThat(store.labelingCandidates("lee", 10)).isEmpty();
            assertThat(store.labelingCandidates("kim", 10)).extracting(PromptLog::id).containsExactly("p2");
            assertThat(store.countJudgements()).isEqualTo(1);
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void anOptOutCoversPastAndFuturePromptsAndDeletionTakesEverythingOfTheUser(String kind) {
        try (Store store = open(kind)) {
            store.log(List.of(log("p1", "alice", 2), log("p2", "bob", 2)));
            assertThat(store.consent("alice")).isTrue();
            assertThat(store.setConsent("alice", false, 2000)).isEqualTo(1);
            store.log(List.of(log("p3", "alice", 0)));
            assertThat(store.prompts(10)).filteredOn(p -> p.userId().equals("alice")).extracting(PromptLog::consent)
                    .containsOnly(false);
            assertThat(store.labelingCandidates("lee", 10)).extracting(PromptLog::id).containsExactly("p2");
            assertThat(store.setConsent("alice", true, 3000)).isEqualTo(2);

            store.addRanking(new Judgement.Ranking("r1", "p1", "lee", List.of(0, 1), new int[] {0, 1}, "labeling", 1),
                    List.of(new Judgement.Label(0, 5, List.of())));
            store.addDemonstration(new Judgement.Demonstration("d1", "p3", "lee", "an answer", "labeling", 1));
            store.addRanking(new Judgement.Ranking("r2", "p2", "lee", List.of(0, 1), new int[] {1, 0}, "labeling", 1));
            Store.Deletion d = store.deleteUser("alice");
            assertThat(d).isEqualTo(new Store.Deletion("alice", 2, 2, 1, 1));
            assertThat(store.prompts(10)).extracting(PromptLog::userId).containsExactly("bob");
            assertThat(store.rankings()).extracting(Judgement.Ranking::id).containsExactly("r2");
            assertThat(store.demonstrations()).isEmpty();
            store.audit("user_deleted", "alice", 4000);
            assertThat(store.auditLog()).singleElement().asString().contains("user_deleted alice");
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void trainingRunsAreUpsertedAndListedNewestFirst(String kind) {
        try (Store store = open(kind)) {
            TrainingRun a = new TrainingRun("run-1", TrainingRun.QUEUED, "manual", "snapshot", 0, null, null, null,
                    false, null, "/runs/run-1", "{}", 1000, 1000);
            store.saveRun(a);
            store.saveRun(a.withProgress("ppo", 0.5, 2000).withSnapshot("snap-1", 2000));
            store.saveRun(new TrainingRun("run-2", TrainingRun.QUEUED, "schedule", null, 0, null, null, null, false, null,
                    "/runs/run-2", "{}", 3000, 3000));
            assertThat(store.runs()).extracting(TrainingRun::id).containsExactly("run-2", "run-1");
            TrainingRun read = store.run("run-1").orElseThrow();
            assertThat(read.state()).isEqualTo(TrainingRun.RUNNING);
            assertThat(read.stage()).isEqualTo("ppo");
            assertThat(read.progress()).isEqualTo(0.5);
            assertThat(read.snapshot()).isEqualTo("snap-1");
            store.saveRun(read.succeeded("3", "{\"passed\":true}", true, 4000));
            assertThat(store.run("run-1").orElseThrow().finished()).isTrue();
            assertThat(store.run("run-1").orElseThrow().promoted()).isTrue();
        }
    }

    @ParameterizedTest
    @MethodSource("databases")
    void optingBackInDoesNotOverrideARequestThatSaidNo(String kind) {
        try (Store store = open(kind)) {
            PromptLog said = log("p1", "dana", 0);
            PromptLog no = new PromptLog("p2", "dana", false, "api", "private", "1", "{}", 1000, List.of());
            store.log(List.of(said, no));
            store.setConsent("dana", false, 2000);
            store.setConsent("dana", true, 3000);
            assertThat(store.prompts(10)).extracting(PromptLog::id, PromptLog::consent)
                    .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("p1", true),
                            org.assertj.core.groups.Tuple.tuple("p2", false));
        }
    }
}
