package io.rlhf4j.core.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Group commit for the prompt log. Request handlers hand a log to {@link #submit} and answer their
 * client when the returned future completes: the row is then durable, so a crash loses no
 * acknowledged request, yet many requests share one transaction instead of paying one each. One
 * writer thread owns the store's write path.
 */
public final class LogWriter implements AutoCloseable {

    private record Pending(PromptLog log, CompletableFuture<Void> done) {}

    private final Store store;
    private final BlockingQueue<Pending> queue;
    private final int maxBatch;
    private final Thread thread;
    private volatile boolean closed;

    public LogWriter(Store store, int capacity, int maxBatch) {
        this.store = store;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.maxBatch = maxBatch;
        this.thread = new Thread(this::run, "rlhf4j-log-writer");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * How many more logs the queue takes now. A request checks it before generating, so that a store
     * too slow to keep up answers 503 at once rather than 500 after the work is done.
     */
    public int room() {
        return closed ? 0 : queue.remainingCapacity();
    }

    /**
     * Completes once every log queued before it has been committed (or has failed): a barrier for a
     * user's deletion, which must not answer while a log it should have covered is still on its way.
     * Waits for room if the queue is full.
     */
    public CompletableFuture<Void> flush() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Pending barrier = new Pending(null, done);
        try {
            if (closed || !queue.offer(barrier, 30, TimeUnit.SECONDS)) {
                done.completeExceptionally(new IllegalStateException("the prompt log is closed or stuck"));
            } else if (closed && queue.remove(barrier)) {
                // The writer stopped while we waited for room: it will not see this one.
                done.completeExceptionally(new IllegalStateException("the prompt log is closed"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(e);
        }
        return done;
    }

    /** Queues a log; the future fails (rather than blocking the caller) when the queue is full. */
    public CompletableFuture<Void> submit(PromptLog log) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Pending p = new Pending(log, done);
        if (closed || !queue.offer(p)) {
            done.completeExceptionally(new IllegalStateException(
                    closed ? "the prompt log is closed" : "the prompt log is backed up; try again"));
        } else if (closed && queue.remove(p)) {
            // The writer stopped between the check and the offer: it will not see this one.
            done.completeExceptionally(new IllegalStateException("the prompt log is closed"));
        }
        return done;
    }

    private void run() {
        List<Pending> batch = new ArrayList<>();
        try {
            while (!closed || !queue.isEmpty()) {
                Pending first = queue.poll(50, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                // Barriers (flush) carry no log: they complete with the batch they came in.
                List<Pending> logs = batch.stream().filter(p -> p.log() != null).toList();
                try {
                    store.prompts().log(logs.stream().map(Pending::log).toList());
                    batch.forEach(p -> p.done().complete(null));
                } catch (RuntimeException e) {
                    // One bad log must not fail the others it shared a transaction with.
                    for (Pending p : logs) {
                        try {
                            store.prompts().log(List.of(p.log()));
                            p.done().complete(null);
                        } catch (RuntimeException each) {
                            p.done().completeExceptionally(each);
                        }
                    }
                    batch.forEach(p -> p.done().complete(null)); // barriers; logs already answered
                }
                batch.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable fatal) {
            batch.forEach(p -> p.done().completeExceptionally(fatal));
        } finally {
            // Whatever is left (a late submit, a fatal error) is answered, never left waiting.
            closed = true;
            for (Pending p; (p = queue.poll()) != null; ) {
                p.done().completeExceptionally(new IllegalStateException("the prompt log is closed"));
            }
        }
    }

    /** Writes what is queued, then stops. */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
