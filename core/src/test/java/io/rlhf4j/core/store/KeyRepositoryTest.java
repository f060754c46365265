package io.rlhf4j.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** API keys, on SQLite and on PostgreSQL. */
@ExtendWith(Databases.class)
class KeyRepositoryTest {

    @TempDir
    static Path tmp;

    @ParameterizedTest
    @MethodSource("io.rlhf4j.core.store.Databases#kinds")
    void keysAreStoredHashedAndCanBeRevoked(String kind) {
        try (Store store = Databases.open(kind, tmp)) {
            KeyRepository keys = store.keys();
            String key = ApiKey.generate();
            assertThat(key).startsWith("rk-").hasSize(46);
            keys.create(new ApiKey(ApiKey.hash(key), ApiKey.prefixOf(key), "alice", "user", false, 60, 1, null));
            assertThat(keys.countActive()).isEqualTo(1);
            ApiKey found = keys.find(ApiKey.hash(key)).orElseThrow();
            assertThat(found.userId()).isEqualTo("alice");
            assertThat(found.revoked()).isFalse();
            assertThat(found.hash()).isNotEqualTo(key).hasSize(64);
            assertThat(keys.find(ApiKey.hash(key + "x"))).isEmpty();
            assertThat(keys.revoke(ApiKey.prefixOf(key), 2)).isEqualTo(1);
            assertThat(keys.find(ApiKey.hash(key)).orElseThrow().revoked()).isTrue();
            assertThat(keys.find(ApiKey.hash(key)).orElseThrow().revokedAt()).isEqualTo(2L);
            assertThat(keys.countActive()).isZero();
        }
    }
}
