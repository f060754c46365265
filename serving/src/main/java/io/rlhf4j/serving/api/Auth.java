package io.rlhf4j.serving.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.rlhf4j.core.store.ApiKey;
import io.rlhf4j.core.store.Store;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Who is calling. A server on loopback is in open mode when started so ({@code --open}) or while its
 * store has never held an API key (a fresh install): the user is the request's {@code user} field or
 * "anonymous". Once a key has been created, revoking the last one does not reopen it (then nobody gets
 * in), and a server on any other address never is in open mode. Otherwise every request needs
 * {@code Authorization: Bearer <key>}; the key's user id is recorded, or the {@code user} field when the
 * key may set it (a service answering for its own users). Each key has its own token bucket.
 * A key is looked up in the store at most once a second ({@link #KEY_CACHE}), so a key revoked through
 * any replica of a cluster is refused by every one within two seconds; the buckets are shared by the
 * replicas on PostgreSQL ({@link RateBuckets}). Call {@link #authenticate} off the event loop.
 */
final class Auth {

    /**
     * The caller, resolved. {@code caller} is whom cost limits and fair queueing count against: the
     * key (by its hash), or in open mode the user.
     */
    record Principal(String userId, String role, String keyPrefix, String caller) {}

    private final Store store;
    private final boolean loopback;
    private final boolean explicitOpen;
    private final TimeMeter meter;
    private final Cache<String, Optional<ApiKey>> keys;
    private final RateBuckets buckets;
    private final Cache<String, Long> activeKeys;
    private final Cache<String, Boolean> misses;
    private final Cache<String, Boolean> recentlyValid;
    private final Bucket failedLookups;

    /** How long a key, or its absence, is taken from the cache rather than the store. */
    static final Duration KEY_CACHE = Duration.ofSeconds(1);

    /** How many lookups of unknown keys a second may reach the store. */
    static final int FAILED_LOOKUPS_PER_SECOND = 50;

    private volatile boolean lastKnownOpen;

    /**
     * @param loopback whether the server listens on loopback only: open mode is allowed nowhere else
     * @param explicitOpen open mode was asked for, so it holds even when keys exist
     * @param clock what the token buckets refill by and the cached lookups expire by
     */
    Auth(Store store, boolean loopback, boolean explicitOpen, Clock clock, RateBuckets buckets) {
        this.buckets = buckets;
        this.store = store;
        this.loopback = loopback;
        this.explicitOpen = explicitOpen;
        this.meter = Clocks.meter(clock);
        Ticker ticker = Clocks.ticker(clock);
        this.keys = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumSize(100_000)
                .expireAfterWrite(KEY_CACHE)
                .build();
        this.activeKeys = Caffeine.newBuilder()
                .ticker(ticker)
                .expireAfterWrite(Duration.ofSeconds(5))
                .build();
        this.misses = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumSize(10_000)
                .expireAfterWrite(KEY_CACHE)
                .build();
        this.recentlyValid = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumSize(100_000)
                .expireAfterAccess(Duration.ofHours(1))
                .build();
        this.failedLookups = Bucket.builder()
                .withCustomTimePrecision(meter)
                .addLimit(Bandwidth.builder()
                        .capacity(FAILED_LOOKUPS_PER_SECOND)
                        .refillGreedy(FAILED_LOOKUPS_PER_SECOND, Duration.ofSeconds(1))
                        .build())
                .build();
    }

    /**
     * A key by its hash. Keys found stay in their own cache, which unknown keys cannot fill: a flood of
     * made-up keys would otherwise evict the real ones and send every request to the store. Unknown
     * keys are remembered apart, and once {@link #FAILED_LOOKUPS_PER_SECOND} lookups a second have
     * failed, further unknown keys are refused without asking the store until the budget refills.
     */
    private Optional<ApiKey> lookUp(String hash) {
        Optional<ApiKey> known = keys.getIfPresent(hash);
        if (known != null) {
            return known;
        }
        if (misses.getIfPresent(hash) != null) {
            return Optional.empty();
        }
        // A key seen valid lately is always looked up again (a flood must not lock it out once its
        // cached entry expires); only keys never seen are held back while the budget is spent.
        if (recentlyValid.getIfPresent(hash) == null && failedLookups.getAvailableTokens() <= 0) {
            throw new ApiError(
                            429,
                            "requests",
                            null,
                            "too_many_failed_authentications",
                            "too many requests with unknown API keys; retry in 1 s")
                    .retryAfter(1);
        }
        Optional<ApiKey> found = store.keys().find(hash);
        if (found.isPresent()) {
            keys.put(hash, found);
            recentlyValid.put(hash, Boolean.TRUE);
        } else {
            failedLookups.tryConsume(1);
            misses.put(hash, Boolean.TRUE);
        }
        return found;
    }

    /** Reads the store when the cached key count has expired: call it on a worker. */
    boolean openMode() {
        boolean open = loopback
                && (explicitOpen || activeKeys.get("ever", k -> store.keys().countEver()) == 0);
        lastKnownOpen = open;
        return open;
    }

    /**
     * Open mode as last seen by {@link #openMode}, without touching the store: for checks on the event
     * loop. It lags a key's creation or revocation by at most the next authenticated request.
     */
    boolean lastKnownOpenMode() {
        return lastKnownOpen;
    }

    /** Forgets cached keys, so a revocation or a new key counts at once. */
    void invalidate() {
        keys.invalidateAll();
        misses.invalidateAll();
        activeKeys.invalidateAll();
    }

    Principal authenticate(String authorization, String requestedUser) {
        if (openMode()) {
            String user = requestedUser == null ? "anonymous" : requestedUser;
            return new Principal(user, "user", null, "user:" + user);
        }
        if (authorization == null || !authorization.startsWith("Bearer ")) {
            throw new ApiError(
                    401,
                    "invalid_request_error",
                    null,
                    "invalid_api_key",
                    "this server needs an API key: send 'Authorization: Bearer <key>'");
        }
        String key = authorization.substring(7).trim();
        String hash = ApiKey.hash(key);
        ApiKey k = lookUp(hash)
                .filter(x -> !x.revoked())
                .orElseThrow(() -> new ApiError(
                        401,
                        "invalid_request_error",
                        null,
                        "invalid_api_key",
                        "incorrect or revoked API key " + ApiKey.prefixOf(key) + "..."
                                + (activeKeys.get("active", n -> store.keys().countActive()) == 0
                                        ? " (every key of this server is revoked: create one, or start it with"
                                                + " --open on loopback)"
                                        : "")));
        Bucket bucket = buckets.perMinute("requests:" + hash, k.requestsPerMinute());
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
        if (!probe.isConsumed()) {
            long seconds = Clocks.retryAfterSeconds(probe);
            throw new ApiError(
                            429,
                            "requests",
                            null,
                            "rate_limit_exceeded",
                            "rate limit of "
                                    + k.requestsPerMinute() + " requests per minute reached for key " + k.prefix()
                                    + "...; retry in " + seconds + " s")
                    .retryAfter(seconds);
        }
        String user = k.maySetUser() && requestedUser != null ? requestedUser : k.userId();
        return new Principal(user, k.role(), k.prefix(), "key:" + hash);
    }
}
