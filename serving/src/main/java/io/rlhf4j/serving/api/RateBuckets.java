package io.rlhf4j.serving.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.distributed.jdbc.PrimaryKeyMapper;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.postgresql.Bucket4jPostgreSQL;
import io.rlhf4j.core.store.Store;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Named token buckets refilled by the minute. On SQLite, where one server owns the store, they live in
 * this process. On PostgreSQL they live in the store's {@code rate_buckets} table through bucket4j's
 * JDBC proxy (a row locked with {@code SELECT ... FOR UPDATE} for each consumption), so every replica
 * draws on the same bucket and a key's limit holds however its requests are spread. That costs a
 * round trip to the store per consumption: call it off the event loop, and {@link #refund} never
 * blocks its caller.
 */
final class RateBuckets implements AutoCloseable {

    private final TimeMeter meter;
    private final Cache<String, Bucket> buckets;
    private final ProxyManager<String> shared;
    private final ExecutorService refunds;

    RateBuckets(Store store, Clock clock) {
        this.meter = Clocks.meter(clock);
        this.buckets = Caffeine.newBuilder()
                .ticker(Clocks.ticker(clock))
                .maximumSize(100_000)
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
        if (store.isSqlite()) {
            this.shared = null;
            this.refunds = null;
        } else {
            this.shared = Bucket4jPostgreSQL.selectForUpdateBasedBuilder(store.dataSource())
                    .primaryKeyMapper(PrimaryKeyMapper.STRING)
                    .table("rate_buckets")
                    .idColumn("id")
                    .stateColumn("state")
                    .clientClock(meter)
                    .build();
            this.refunds = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "rlhf4j-rate-refunds");
                t.setDaemon(true);
                return t;
            });
        }
    }

    /** Whether the buckets are shared with other replicas. */
    boolean shared() {
        return shared != null;
    }

    /** The bucket {@code name}, holding {@code n} tokens and refilling {@code n} a minute. */
    Bucket perMinute(String name, long n) {
        // The limit is part of the name: a key whose limit changes starts a bucket of the new size.
        String key = name + "/" + n;
        return buckets.get(
                key,
                k -> shared == null
                        ? Clocks.perMinute(meter, n)
                        : shared.builder().build(k, () -> configuration(n)));
    }

    /** Gives {@code tokens} back to {@code bucket} (a request that never ran), off the caller's thread. */
    void refund(Bucket bucket, long tokens) {
        if (refunds == null) {
            bucket.addTokens(tokens);
        } else {
            refunds.execute(() -> bucket.addTokens(tokens));
        }
    }

    private static BucketConfiguration configuration(long n) {
        return BucketConfiguration.builder()
                .addLimit(Bandwidth.builder()
                        .capacity(n)
                        .refillGreedy(n, Duration.ofMinutes(1))
                        .build())
                .build();
    }

    @Override
    public void close() {
        if (refunds != null) {
            refunds.shutdown();
        }
    }
}
