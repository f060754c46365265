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

    private record Pending(PromptLog log, CompletableFuture<Void> done) {
    }

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

    /** Queues a log; the future fails (rather than blocking the caller) when the queue is full. */
    public CompletableFuture<Void> submit(PromptLog log) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (closed || !queue.offer(new Pending(log, done))) {
            done.completeExceptionally(new IllegalStateException("the prompt log is backed up; try again"));
        }
        return done;
    }

    private void run() {
        List<Pending> batch = new ArrayList<>();
        while (!closed || !queue.isEmpty()) {
            try {
                Pending first = queue.poll(50, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                try {
                    store.log(batch.stream().map(Pending::log).toList());
                    batch.forEach(p -> p.done().complete(null));
                } catch (RuntimeException e) {
                    batch.forEach(p -> p.done().completeExceptionally(e));
                }
                batch.clear();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
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
