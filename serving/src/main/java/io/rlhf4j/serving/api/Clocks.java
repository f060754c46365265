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
}
