package io.rlhf4j.serving.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.rlhf4j.core.store.ApiKey;
import io.rlhf4j.core.store.Store;
import io.rlhf4j.serving.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A key's token bucket runs by the server's clock: spent, it refills after its period and not before. */
class AuthRateLimitTest {

    @TempDir
    Path tmp;

    @Test
    void aSpentBucketRefillsAfterItsPeriodAndNotBefore() {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (Store store = Store.openSqlite(tmp)) {
            String key = ApiKey.generate();
            store.keys()
                    .create(new ApiKey(
                            ApiKey.hash(key), ApiKey.prefixOf(key), "alice", "user", false, 2, clock.millis(), null));
            Auth auth = new Auth(store, false, false, clock, new RateBuckets(store, clock));
            String bearer = "Bearer " + key;

            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("alice");
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("alice");
            ApiError limited = catchThrowableOfType(ApiError.class, () -> auth.authenticate(bearer, null));
            assertThat(limited.status).isEqualTo(429);
            assertThat(limited.code).isEqualTo("rate_limit_exceeded");
            // Two a minute refill greedily: one token every 30 s.
            assertThat(limited.retryAfterSeconds).isEqualTo(30);

            clock.advance(Duration.ofSeconds(29));
            assertThat(catchThrowableOfType(ApiError.class, () -> auth.authenticate(bearer, null)).status)
                    .isEqualTo(429);
            clock.advance(Duration.ofSeconds(1));
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("alice");
            assertThat(catchThrowableOfType(ApiError.class, () -> auth.authenticate(bearer, null)).status)
                    .isEqualTo(429);

            // A whole period idle fills the bucket to its capacity, and no further.
            clock.advance(Duration.ofMinutes(5));
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("alice");
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("alice");
            assertThat(catchThrowableOfType(ApiError.class, () -> auth.authenticate(bearer, null)).status)
                    .isEqualTo(429);
        }
    }

    @Test
    void aRevocationCountsOnceTheCachedLookupExpires() {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (Store store = Store.openSqlite(tmp)) {
            String key = ApiKey.generate();
            store.keys()
                    .create(new ApiKey(
                            ApiKey.hash(key), ApiKey.prefixOf(key), "bob", "user", false, 60, clock.millis(), null));
            Auth auth = new Auth(store, false, false, clock, new RateBuckets(store, clock));
            String bearer = "Bearer " + key;
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("bob");
            store.keys().revoke(ApiKey.prefixOf(key), clock.millis());
            // Lookups are cached for 1 s (the admin API invalidates its own replica's cache at once; another
            // replica's, or a CLI revocation, waits this out).
            clock.advance(Auth.KEY_CACHE.minusMillis(100));
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("bob");
            clock.advance(Duration.ofMillis(100));
            assertThat(catchThrowableOfType(ApiError.class, () -> auth.authenticate(bearer, null)).status)
                    .isEqualTo(401);
        }
    }

    @Test
    void aFloodOfUnknownKeysIsCutOffWithoutLockingOutAKnownKey() {
        TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (Store store = Store.openSqlite(tmp)) {
            String key = ApiKey.generate();
            store.keys()
                    .create(new ApiKey(
                            ApiKey.hash(key),
                            ApiKey.prefixOf(key),
                            "carol",
                            "user",
                            false,
                            1000,
                            clock.millis(),
                            null));
            Auth auth = new Auth(store, false, false, clock, new RateBuckets(store, clock));
            String bearer = "Bearer " + key;
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("carol");

            int unauthorized = 0;
            int cutOff = 0;
            for (int i = 0; i < 200; i++) {
                ApiError e = catchThrowableOfType(
                        ApiError.class, () -> auth.authenticate("Bearer " + ApiKey.generate(), null));
                if (e.status == 401) {
                    unauthorized++;
                } else {
                    assertThat(e.status).isEqualTo(429);
                    assertThat(e.code).isEqualTo("too_many_failed_authentications");
                    cutOff++;
                }
                // The real key keeps working through the flood: unknown keys cannot evict it.
                assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("carol");
            }
            assertThat(unauthorized).isEqualTo(Auth.FAILED_LOOKUPS_PER_SECOND);
            assertThat(cutOff).isEqualTo(200 - Auth.FAILED_LOOKUPS_PER_SECOND);
            // The known key's cached lookup expires mid-flood: it is looked up again, not held back.
            clock.advance(Duration.ofMillis(10_500));
            for (int i = 0; i < 100; i++) {
                var unused = catchThrowableOfType(
                        ApiError.class, () -> auth.authenticate("Bearer " + ApiKey.generate(), null));
            }
            assertThat(auth.authenticate(bearer, null).userId()).isEqualTo("carol");
            // Once the flood stops, a second later the store is asked again.
            clock.advance(Duration.ofSeconds(1));
            assertThat(catchThrowableOfType(
                                    ApiError.class, () -> auth.authenticate("Bearer " + ApiKey.generate(), null))
                            .status)
                    .isEqualTo(401);
        }
    }
}
