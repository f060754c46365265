package io.rlhf4j.serving.api;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.rlhf4j.serving.config.AdmissionLimits;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cost limits per caller, beside the request rate {@link Auth} counts: how many generating requests a
 * caller has open at once, and how many tokens (prompt plus what it may generate) it spends a minute.
 * A request takes a {@link Lease} before it is queued and gives it back when its response ends or its
 * client leaves; a request refused after that (the queue was full) gets its tokens back. The token
 * budget is shared by the replicas on PostgreSQL; the count of open requests is this replica's own
 * (it guards this replica's batch slots).
 */
final class Quotas {

    /** What one admitted request holds; releasing it twice is harmless. */
    final class Lease {
        private final String caller;
        private final long tokens;
        private final Bucket bucket;
        private final AtomicBoolean released = new AtomicBoolean();

        private Lease(String caller, long tokens, Bucket bucket) {
            this.caller = caller;
            this.tokens = tokens;
            this.bucket = bucket;
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
                budgets.refund(bucket, tokens);
            }
        }
    }

    private final AdmissionLimits limits;
    private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();
    private final RateBuckets budgets;

    /** @param budgets where the token budgets live: shared by the replicas on PostgreSQL */
    Quotas(AdmissionLimits limits, RateBuckets budgets) {
        this.limits = limits;
        this.budgets = budgets;
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
        Bucket bucket = budgets.perMinute("tokens:" + caller, budget);
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
        return new Lease(caller, tokens, bucket);
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
