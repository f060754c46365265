package io.rlhf4j.serving.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.rlhf4j.serving.config.AdmissionLimits;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cost limits per caller, beside the request rate {@link Auth} counts: how many generating requests a
 * caller has open at once, and how many tokens (prompt plus what it may generate) it spends a minute.
 * A request takes a {@link Lease} before it is queued and gives it back when its response ends or its
 * client leaves; a request refused after that (the queue was full) gets its tokens back.
 */
final class Quotas {

    /** What one admitted request holds; releasing it twice is harmless. */
    final class Lease {
        private final String caller;
        private final long tokens;
        private final AtomicBoolean released = new AtomicBoolean();

        private Lease(String caller, long tokens) {
            this.caller = caller;
            this.tokens = tokens;
        }

        /** The request is over: its slot is free. */
        void release() {
            if (released.compareAndSet(false, true)) {
                free(caller);
            }
        }

        /** The request never ran: its slot and its tokens are given back. */
        void refund() {
            if (released.compareAndSet(false, true)) {
                free(caller);
                Bucket b = budgets.getIfPresent(caller);
                if (b != null) {
                    b.addTokens(tokens);
                }
            }
        }
    }

    private final AdmissionLimits limits;
    private final TimeMeter meter;
    private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();
    private final Cache<String, Bucket> budgets;

    Quotas(AdmissionLimits limits, Clock clock) {
        this.limits = limits;
        this.meter = Clocks.meter(clock);
        this.budgets = Caffeine.newBuilder()
                .ticker(Clocks.ticker(clock))
                .maximumSize(100_000)
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
    }

    /**
     * Admits a request costing {@code tokens}, or throws the 429 (or, for a request larger than a whole
     * minute's budget, the 400) that says which limit and when to retry.
     */
    Lease acquire(String caller, long tokens) {
        long budget = limits.tokensPerMinutePerKey();
        if (tokens > budget) {
            throw ApiError.invalid(
                    "max_tokens",
                    "this request may use " + tokens + " tokens (prompt plus max_tokens for each completion), more "
                            + "than a caller's budget of " + budget + " tokens per minute: lower max_tokens or n, or "
                            + "send fewer prompts");
        }
        boolean[] taken = {false};
        open.compute(caller, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= limits.concurrentPerKey()) {
                return n;
            }
            taken[0] = true;
            return now + 1;
        });
        if (!taken[0]) {
            throw new ApiError(
                            429,
                            "requests",
                            null,
                            "too_many_concurrent_requests",
                            "this caller already has " + limits.concurrentPerKey()
                                    + " requests in progress, the most one may have; retry when one has finished")
                    .retryAfter(1);
        }
        Bucket bucket = budgets.get(caller, c -> Clocks.perMinute(meter, budget));
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(tokens);
        if (!probe.isConsumed()) {
            free(caller);
            long seconds = Clocks.retryAfterSeconds(probe);
            throw new ApiError(
                            429,
                            "tokens",
                            null,
                            "rate_limit_exceeded",
                            "token budget of " + budget + " tokens per minute reached for this caller (this request "
                                    + "may use " + tokens + "); retry in " + seconds + " s")
                    .retryAfter(seconds);
        }
        return new Lease(caller, tokens);
    }

    AdmissionLimits limits() {
        return limits;
    }

    private void free(String caller) {
        open.computeIfPresent(caller, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** Requests the caller has in progress. */
    int inProgress(String caller) {
        return open.getOrDefault(caller, 0);
    }
}
