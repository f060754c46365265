package io.rlhf4j.serving.api;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The server's {@link Clock} in the forms its libraries read time: a Caffeine {@link Ticker} and a
 * bucket4j {@link TimeMeter}. Leases and rate limits then follow the same clock as everything else,
 * and a test that moves the clock moves them too.
 */
final class Clocks {

    private Clocks() {}

    /** Nanoseconds since this ticker was made: Caffeine needs only differences, and these never overflow. */
    static Ticker ticker(Clock clock) {
        Instant origin = clock.instant();
        return () -> Duration.between(origin, clock.instant()).toNanos();
    }

    /** Epoch time in milliseconds scaled to nanoseconds, as bucket4j's default meter reads the system clock. */
    static TimeMeter meter(Clock clock) {
        return new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return clock.millis() * 1_000_000L;
            }

            @Override
            public boolean isWallClockBased() {
                return true;
            }
        };
    }

    /** A token bucket of {@code n} a minute, refilled continuously, running by {@code meter}. */
    static io.github.bucket4j.Bucket perMinute(TimeMeter meter, long n) {
        return io.github.bucket4j.Bucket.builder()
                .withCustomTimePrecision(meter)
                .addLimit(io.github.bucket4j.Bandwidth.builder()
                        .capacity(n)
                        .refillGreedy(n, Duration.ofMinutes(1))
                        .build())
                .build();
    }

    /** Whole seconds, at least one, until a refused consumption would succeed: a 429's Retry-After. */
    static long retryAfterSeconds(io.github.bucket4j.ConsumptionProbe refused) {
        return Math.max(1, (refused.getNanosToWaitForRefill() + 999_999_999L) / 1_000_000_000L);
    }
}
