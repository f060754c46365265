package io.rlhf4j.serving.config;

/**
 * What one caller, and all of them together, may hold of the server before being told to wait: the
 * cost limits of OWASP's API4 (unrestricted resource consumption). A caller is an API key, or in
 * open mode a user id.
 *
 * @param logQueue prompt logs waiting for their commit; a generating request that would not fit is
 *     answered 503 before it generates
 * @param concurrentPerKey generating requests one key may have running or queued at once
 * @param tokensPerMinutePerKey prompt tokens plus the new tokens a request may generate ({@code
 *     max_tokens} times its completions), per key and minute
 * @param queueSharePerKey the fraction of the scheduler's wait queue one key may hold, so that one
 *     caller cannot fill it for everyone
 * @param streamBufferBytes what the server buffers for a streaming client that does not read; past it
 *     the stream is cancelled and its connection closed
 * @param completionsPerRequest completions (prompts times {@code n}) one request may ask for
 */
public record AdmissionLimits(
        int logQueue,
        int concurrentPerKey,
        long tokensPerMinutePerKey,
        double queueSharePerKey,
        int streamBufferBytes,
        int completionsPerRequest) {

    public AdmissionLimits {
        if (logQueue < 1) {
            throw new IllegalArgumentException("limits.log_queue must be at least 1, got " + logQueue);
        }
        if (concurrentPerKey < 1) {
            throw new IllegalArgumentException("limits.concurrent_per_key must be at least 1, got " + concurrentPerKey);
        }
        if (tokensPerMinutePerKey < 1) {
            throw new IllegalArgumentException(
                    "limits.tokens_per_minute_per_key must be at least 1, got " + tokensPerMinutePerKey);
        }
        if (!(queueSharePerKey > 0 && queueSharePerKey <= 1)) {
            throw new IllegalArgumentException("limits.queue_share_per_key must be in (0, 1], got " + queueSharePerKey);
        }
        if (completionsPerRequest < 1) {
            throw new IllegalArgumentException(
                    "limits.completions_per_request must be at least 1, got " + completionsPerRequest);
        }
        if (streamBufferBytes < 4096) {
            throw new IllegalArgumentException(
                    "limits.stream_buffer_bytes must be at least 4096, got " + streamBufferBytes);
        }
    }

    public static AdmissionLimits defaults() {
        return new AdmissionLimits(10_000, 64, 1_000_000, 0.5, 1 << 20, 256);
    }

    public AdmissionLimits withLogQueue(int n) {
        return new AdmissionLimits(
                n, concurrentPerKey, tokensPerMinutePerKey, queueSharePerKey, streamBufferBytes, completionsPerRequest);
    }

    public AdmissionLimits withConcurrentPerKey(int n) {
        return new AdmissionLimits(
                logQueue, n, tokensPerMinutePerKey, queueSharePerKey, streamBufferBytes, completionsPerRequest);
    }

    public AdmissionLimits withTokensPerMinutePerKey(long n) {
        return new AdmissionLimits(
                logQueue, concurrentPerKey, n, queueSharePerKey, streamBufferBytes, completionsPerRequest);
    }

    public AdmissionLimits withQueueSharePerKey(double share) {
        return new AdmissionLimits(
                logQueue, concurrentPerKey, tokensPerMinutePerKey, share, streamBufferBytes, completionsPerRequest);
    }

    public AdmissionLimits withStreamBufferBytes(int n) {
        return new AdmissionLimits(
                logQueue, concurrentPerKey, tokensPerMinutePerKey, queueSharePerKey, n, completionsPerRequest);
    }

    public AdmissionLimits withCompletionsPerRequest(int n) {
        return new AdmissionLimits(
                logQueue, concurrentPerKey, tokensPerMinutePerKey, queueSharePerKey, streamBufferBytes, n);
    }
}
