package io.rlhf4j.serving.api;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A worker pool of its own for one kind of blocking work, with a bound on what may wait for it. The
 * endpoints that score rewards, sample for labelers and read the store each have one, apart from the
 * pool that authenticates and tokenizes generation requests: a flood of reward requests (or of
 * unknown keys sent to them, which are looked up there) fills its own pool and is answered 503, and
 * completions go on being admitted.
 */
final class Bulkhead implements AutoCloseable {

    private final String name;
    private final WorkerExecutor pool;
    private final int maxWaiting;
    private final AtomicInteger waiting = new AtomicInteger();

    /**
     * @param threads the pool's threads
     * @param maxWaiting tasks running or queued at most; one more is refused with a 503
     */
    Bulkhead(Vertx vertx, String name, int threads, int maxWaiting) {
        this.name = name;
        this.pool = vertx.createSharedWorkerExecutor("rlhf4j-" + name, threads);
        this.maxWaiting = maxWaiting;
    }

    /** Runs {@code work} on this pool (unordered), or fails at once with a 503 when the pool is full. */
    <T> Future<T> run(Callable<T> work) {
        if (waiting.incrementAndGet() > maxWaiting) {
            waiting.decrementAndGet();
            return Future.failedFuture(
                    ApiError.overloaded("the server is busy with " + name + " requests; retry shortly")
                            .retryAfter(1));
        }
        return pool.executeBlocking(
                () -> {
                    try {
                        return work.call();
                    } finally {
                        waiting.decrementAndGet();
                    }
                },
                false);
    }

    /** Tasks running or queued now. */
    int waiting() {
        return waiting.get();
    }

    @Override
    public void close() {
        pool.close();
    }
}
