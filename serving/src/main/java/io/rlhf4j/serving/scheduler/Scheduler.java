package io.rlhf4j.serving.scheduler;

import io.rlhf4j.serving.engine.PolicyEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Continuous batching over one engine. A single thread ({@link BatchLoop}) owns the engine and the
 * running batch; each
 * iteration either admits waiting requests (one prefill for all of them, the {@code n} completions of a
 * prompt sharing it) or advances every running sequence by one decode step. A prompt with more than
 * {@code prefillChunk} tokens still to compute (after what the engine's prefix cache holds) is
 * prefilled one chunk per iteration instead, each chunk followed by a decode step of the running
 * rows, so a long prompt does not stall the streams already running. Finished and cancelled
 * sequences leave the batch at once. The wait queue is bounded: {@link #submit} refuses when it is full.
 * The scheduler decides (admit, prefill, decode, retire) and samples each row's next token; the engine
 * executes the forward passes, and each choice's {@link OutputProcessor} turns its tokens into output.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * How much work one scheduler takes on: rows decoded together, prompts waiting, and the share of
     * the waiting room one caller may hold.
     */
    public record Limits(int maxRows, int queueCapacity, double queueSharePerCaller, int prefillChunk) {
        /** Prompt tokens one iteration prefills of a long prompt, between decode steps of the others. */
        public static final int DEFAULT_PREFILL_CHUNK = 256;

        public Limits {
            if (prefillChunk < 1) {
                throw new IllegalArgumentException("prefill chunk must be at least 1 token, got " + prefillChunk);
            }
        }

        public Limits(int maxRows, int queueCapacity, double queueSharePerCaller) {
            this(maxRows, queueCapacity, queueSharePerCaller, DEFAULT_PREFILL_CHUNK);
        }

        public Limits(int maxRows, int queueCapacity) {
            this(maxRows, queueCapacity, 1.0);
        }
    }

    /** A submitted request; cancelling frees its rows at the next iteration. */
    public static final class Handle {
        volatile boolean cancelled;

        public void cancel() {
            cancelled = true;
        }
    }

    record Pending(GenerationRequest request, Sink sink, Handle handle, long arrivedNanos) {}

    private final PolicyEngine engine;
    private final Limits limits;
    private final WaitQueue<Pending> queue;
    private final Thread thread;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean closing;
    private volatile boolean cancelAll;
    private static final java.time.Duration DRAIN_LIMIT = java.time.Duration.ofMinutes(10);

    public Scheduler(PolicyEngine engine, Limits limits) {
        this.engine = engine;
        this.limits = limits;
        this.queue = new WaitQueue<>(limits.queueCapacity(), limits.queueSharePerCaller());
        this.thread = new Thread(new BatchLoop(this, engine, limits)::run, "rlhf4j-scheduler-" + engine.version());
        thread.setDaemon(true);
        thread.start();
    }

    public PolicyEngine engine() {
        return engine;
    }

    public Limits limits() {
        return limits;
    }

    /** Requests queued or running. */
    public int inFlight() {
        return inFlight.get();
    }

    /** True once {@link #close} began: new requests belong on the next scheduler. */
    public boolean isClosing() {
        return closing;
    }

    public int queued() {
        return queue.size();
    }

    /** Queues a request of an anonymous caller; see {@link #submit(String, List, List)}. */
    public Optional<Handle> submit(GenerationRequest request, Sink sink) {
        return submit("", List.of(request), List.of(sink)).map(handles -> handles.get(0));
    }

    /**
     * Queues the prompts of one request, all or none: empty when the queue, or {@code caller}'s share of
     * it, has no room for all of them, or the scheduler is closing. Callers are served in turn.
     */
    public Optional<List<Handle>> submit(String caller, List<GenerationRequest> requests, List<Sink> sinks) {
        List<Pending> pending = new ArrayList<>();
        long now = System.nanoTime();
        for (int i = 0; i < requests.size(); i++) {
            GenerationRequest request = requests.get(i);
            if (request.n() > limits.maxRows()) {
                throw new IllegalArgumentException(
                        "n = " + request.n() + " exceeds this server's batch of " + limits.maxRows());
            }
            pending.add(new Pending(request, sinks.get(i), new Handle(), now));
        }
        inFlight.addAndGet(pending.size());
        if (closing || !queue.offerAll(caller, pending)) {
            inFlight.addAndGet(-pending.size());
            return Optional.empty();
        }
        // close() may have begun between the check and the offer, and the loop may already have
        // drained its last work: take the request back so the caller sends it to the next scheduler.
        if (closing && queue.removeAll(caller, pending)) {
            inFlight.addAndGet(-pending.size());
            return Optional.empty();
        }
        return Optional.of(pending.stream().map(Pending::handle).toList());
    }

    /**
     * Cancels {@code handles} of {@code caller}'s request (its client left): those still waiting leave
     * the queue now, so that they stop counting against it; running ones stop at the next step.
     */
    public void cancel(String caller, List<Handle> handles) {
        handles.forEach(Handle::cancel);
        int removed = queue.removeIf(caller, p -> p.handle().cancelled);
        inFlight.addAndGet(-removed);
    }

    /** How many prompts one caller may have waiting here. */
    public int queuePerCaller() {
        return queue.perCaller();
    }

    // ------------------------------------------------------------- what the loop (BatchLoop) reads

    WaitQueue<Pending> waiting() {
        return queue;
    }

    /** Past the drain limit: running requests are cancelled. */
    boolean cancellingAll() {
        return cancelAll;
    }

    /** The loop hit a fatal error: no more requests are taken. */
    void stopTaking() {
        closing = true;
    }

    /** One request is answered (finished, failed or cancelled). */
    void requestDone() {
        inFlight.decrementAndGet();
    }

    /** The loop ended and closed the engine. */
    void loopEnded() {
        stopped.countDown();
    }

    static IllegalStateException retired() {
        return new IllegalStateException("the model version was retired before this request finished (it "
                + "outlived the drain limit of " + DRAIN_LIMIT.toMinutes() + " minutes); send it again");
    }

    /**
     * Stops taking requests and waits while those in flight finish; the scheduler thread then closes
     * the engine itself. If they take longer than {@code DRAIN_LIMIT}, they are cancelled.
     */
    @Override
    public void close() {
        closing = true;
        try {
            if (!stopped.await(DRAIN_LIMIT.toSeconds(), TimeUnit.SECONDS)) {
                cancelAll = true;
                stopped.await();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
