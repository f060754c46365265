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
}
