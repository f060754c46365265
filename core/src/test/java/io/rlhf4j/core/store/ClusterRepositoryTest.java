package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Replicas' heartbeats, leases and activation notices, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class ClusterRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aHeartbeatReplacesTheReplicasLastOne(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            ClusterRepository cluster = store.cluster();
            cluster.heartbeat(new Replica("a", "http://a:8080", "1", null, 0, 0, null, 10, 20));
            cluster.heartbeat(new Replica("b", "http://b:8080", null, null, 0, 0, "no version", 10, 20));
            cluster.heartbeat(new Replica("a", "http://a:8080", "2", "r1", 3, 1, null, 10, 30));
            assertThat(cluster.replicas())
                    .containsExactly(
                            new Replica("a", "http://a:8080", "2", "r1", 3, 1, null, 10, 30),
                            new Replica("b", "http://b:8080", null, null, 0, 0, "no version", 10, 20));
            cluster.leave("b");
            assertThat(cluster.replicas()).extracting(Replica::id).containsExactly("a");
            assertThat(cluster.replicas().get(0).alive(35, 5)).isTrue();
            assertThat(cluster.replicas().get(0).alive(36, 5)).isFalse();
        }
    }

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void aLeaseHasOneHolderUntilItExpiresOrIsReleased(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            ClusterRepository cluster = store.cluster();
            assertThat(cluster.leaseHolder("training", 0)).isEmpty();
            assertThat(cluster.tryLease("training", "a", 100, 50)).isTrue();
            assertThat(cluster.tryLease("training", "b", 120, 50)).isFalse();
            assertThat(cluster.tryLease("training", "a", 140, 50)).isTrue(); // renewed to 190
            assertThat(cluster.tryLease("training", "b", 180, 50)).isFalse();
            assertThat(cluster.leaseHolder("training", 180)).contains("a");
            assertThat(cluster.leaseHolder("training", 191)).isEmpty();
            assertThat(cluster.tryLease("training", "b", 191, 50)).isTrue(); // a stopped renewing
            assertThat(cluster.tryLease("training", "a", 200, 50)).isFalse();
            cluster.releaseLease("training", "a"); // not a's to release
            assertThat(cluster.leaseHolder("training", 200)).contains("b");
            cluster.releaseLease("training", "b");
            assertThat(cluster.tryLease("training", "a", 201, 50)).isTrue();
        }
    }

    @Test
    void anActivationWakesAListenerOnPostgresqlAndOnlyOnCommit() throws Exception {
        try (Store store = Databases.open("postgresql", tmp);
                ActivationEvents events = store.activationEvents()) {
            assertThat(events.notifies()).isTrue();
            assertThat(events.await(Duration.ofMillis(50))).isFalse(); // starts listening
            store.versions()
                    .register(
                            new ModelVersion("1", ModelVersion.POLICY, null, "/r/1", "{}", ModelVersion.REGISTERED, 1));
            CompletableFuture<Boolean> woke = CompletableFuture.supplyAsync(() -> {
                try {
                    return events.await(Duration.ofSeconds(20));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            long started = System.nanoTime();
            store.versions().activate(ModelVersion.POLICY, "1", 2);
            assertThat(woke.get(20, TimeUnit.SECONDS)).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
            // A failed activation (no such version) rolls back, and announces nothing.
            try {
                store.versions().activate(ModelVersion.POLICY, "9", 3);
            } catch (Store.StoreException expected) {
                // the foreign key refuses it
            }
            assertThat(events.await(Duration.ofMillis(300))).isFalse();
        }
    }

    @Test
    void onSqliteTheListenerOnlyPolls() throws Exception {
        try (Store store = Databases.open("sqlite", tmp);
                ActivationEvents events = store.activationEvents()) {
            assertThat(events.notifies()).isFalse();
            assertThat(events.await(Duration.ofMillis(10))).isFalse();
        }
    }
}
