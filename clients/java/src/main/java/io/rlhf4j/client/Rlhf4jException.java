package io.rlhf4j.client;

import java.time.Duration;
import java.util.Optional;

/**
 * Everything that can go wrong in a call, as one unchecked type: the server refused (a non-2xx status
 * with OpenAI's error body), the server could not be reached or did not answer in time, or it answered
 * something this client cannot read.
 *
 * <p>One type rather than a hierarchy because callers branch on data, not on class: {@link #status()}
 * says whether the server answered (0 when it did not, or when the error arrived as the last event of a
 * stream whose 200 status had already gone out), {@link #code()} is the server's stable machine-readable
 * reason ({@code model_not_found}, {@code rate_limit_exceeded}, {@code gate_failed}, ...) and
 * {@link #param()} names the request field at fault. The client never retries on its own: a
 * {@code 429} or {@code 503} carries the server's {@link #retryAfter()} so the caller decides.
 */
public final class Rlhf4jException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** {@link #code()} of an {@link Rlhf4jClient} wait that ran out of time (set by the client, not the server). */
    public static final String WAIT_TIMEOUT = "wait_timeout";

    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final String serverMessage;
    private final Duration retryAfter;

    Rlhf4jException(
            int status,
            String type,
            String param,
            String code,
            String serverMessage,
            Duration retryAfter,
            String message,
            Throwable cause) {
        super(message, cause);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.serverMessage = serverMessage;
        this.retryAfter = retryAfter;
    }

    /** An answer the client cannot make sense of (not JSON, a missing field, a broken stream). */
    static Rlhf4jException protocol(String message) {
        return new Rlhf4jException(0, null, null, null, null, null, message, null);
    }

    /**
     * The HTTP status of the refusal, or 0 when there was none: the server was unreachable or too slow, its
     * answer was unreadable, or a stream failed after its 200 status went out.
     */
    public int status() {
        return status;
    }

    /** OpenAI's error class, e.g. {@code invalid_request_error}, {@code server_error}; null when the server sent none. */
    public String type() {
        return type;
    }

    /** The request field the server blames, e.g. {@code max_tokens}; null when no single field is at fault. */
    public String param() {
        return param;
    }

    /** The server's machine-readable reason, e.g. {@code model_not_found}; null when it gave none. */
    public String code() {
        return code;
    }

    /** The message exactly as the server wrote it (null when the server did not answer); {@link #getMessage()} adds context. */
    public String serverMessage() {
        return serverMessage;
    }

    /** How long the server asked the caller to wait ({@code Retry-After} on 429 and 503 answers). */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }

    /** Whether trying again later may succeed: the server was overloaded, rate-limited or unreachable. */
    public boolean isRetryable() {
        return status == 429
                || status == 502
                || status == 503
                || status == 504
                || (status == 0 && getCause() instanceof java.io.IOException);
    }
}
