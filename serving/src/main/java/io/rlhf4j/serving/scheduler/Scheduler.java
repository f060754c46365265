package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.serving.engine.PolicyEngine;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Continuous batching over one engine. A single thread owns the engine and the running batch; each
 * iteration either admits waiting requests (one prefill for all of them, the {@code n} completions of a
 * prompt sharing it) or advances every running sequence by one decode step. Finished and cancelled
 * sequences leave the batch at once. The wait queue is bounded: {@link #submit} refuses when it is full.
 * The scheduler decides (admit, prefill, decode, retire) and samples each row's next token; the engine
 * executes the forward passes, and each choice's {@link OutputProcessor} turns its tokens into output.
 */
public final class Scheduler implements AutoCloseable {

    /**
     * How much work one scheduler takes on: rows decoded together, prompts waiting, and the share of
     * the waiting room one caller may hold.
     */
    public record Limits(int maxRows, int queueCapacity, double queueSharePerCaller) {
        public Limits(int maxRows, int queueCapacity) {
            this(maxRows, queueCapacity, 1.0);
        }
    }

    /** A submitted request; cancelling frees its rows at the next iteration. */
    public static final class Handle {
        private volatile boolean cancelled;

        public void cancel() {
            cancelled = true;
        }
    }

    private record Pending(GenerationRequest request, Sink sink, Handle handle, long arrivedNanos) {}

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
        this.thread = new Thread(this::loop, "rlhf4j-scheduler-" + engine.version());
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

    // ------------------------------------------------------------------ the loop (scheduler thread only)

    /** One sequence being generated: a choice of a request. */
    private final class Sequence {
        final Pending owner;
        final SplittableRandom rng;
        final int budget;
        final OutputProcessor output;
        int generated;
        int last;
        int prefillRow;
        int idleSteps;
        boolean done;

        Sequence(Pending owner, int choice) {
            this.owner = owner;
            GenerationRequest req = owner.request();
            SamplingParams p = req.params();
            long seed = p.seed() != null ? p.seed() : owner.arrivedNanos() * 31 + System.identityHashCode(owner);
            this.rng = new SplittableRandom(seed + choice);
            this.budget = Math.min(p.maxTokens(), engine.config().maxPositions() - req.prompt().length);
            this.output = new OutputProcessor(engine.tokenizer(), req, owner.sink(), choice);
        }

        /** The position the next decode step would feed this row at. */
        int nextPosition() {
            return owner.request().prompt().length + generated + idleSteps;
        }
    }

    private final Map<Pending, Integer> openChoices = new LinkedHashMap<>();

    private void loop() {
        List<Sequence> running = new ArrayList<>();
        PolicyEngine.Batch batch = null;
        try {
            while (!(closing && running.isEmpty() && queue.isEmpty())) {
                List<Pending> admitted = admit(liveRows(running).length);
                try {
                    if (!admitted.isEmpty()) {
                        List<Sequence> joined = new ArrayList<>();
                        PolicyEngine.Step fresh = prefill(admitted, joined);
                        if (fresh != null) {
                            // One re-layout both drops the rows that finished and adds the new ones.
                            int[] live = liveRows(running);
                            running.removeIf(x -> x.done);
                            int[] freshRows = freshRows(joined);
                            batch = engine.merge(batch, live, fresh.batch(), freshRows);
                            running.addAll(joined);
                        }
                    } else if (!running.isEmpty()) {
                        int[] feed = running.stream().mapToInt(x -> x.last).toArray();
                        PolicyEngine.Step step = engine.decode(batch, feed);
                        batch = step.batch();
                        for (int r = 0; r < running.size(); r++) {
                            if (!running.get(r).done) {
                                accept(running.get(r), step.logits()[r]);
                            } else {
                                running.get(r).idleSteps++;
                            }
                        }
                    }
                    batch = dropFinished(running, batch);
                } catch (RuntimeException e) {
                    // An engine failure fails the requests it touched; the scheduler carries on.
                    failOpen(e);
                    running.clear();
                    batch = closeQuietly(batch);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable fatal) {
            // Out of memory or worse: stop taking requests and answer every one we hold.
            closing = true;
            failOpen(fatal);
            for (Pending p : queue.drain()) {
                p.sink().onError(fatal);
                finishRequest(p);
            }
        } finally {
            closeQuietly(batch);
            // The engine is closed here, by the thread that runs it, never under a running session.
            engine.close();
            stopped.countDown();
        }
    }

    private static PolicyEngine.Batch closeQuietly(PolicyEngine.Batch batch) {
        if (batch != null) {
            try {
                batch.close();
            } catch (RuntimeException ignored) {
                // the batch is being discarded after a failure
            }
        }
        return null;
    }

    private List<Pending> admit(int runningRows) throws InterruptedException {
        List<Pending> out = new ArrayList<>();
        int room = limits.maxRows() - runningRows;
        if (runningRows == 0) {
            Pending first = queue.poll(50, TimeUnit.MILLISECONDS);
            if (first == null) {
                return out;
            }
            out.add(first);
            room -= first.request().n();
        }
        while (true) {
            int free = room;
            Pending next = queue.pollIf(p -> p.request().n() <= free);
            if (next == null) {
                break;
            }
            out.add(next);
            room -= next.request().n();
        }
        out.removeIf(p -> {
            if (p.handle().cancelled || cancelAll) {
                if (!p.handle().cancelled) {
                    p.sink().onError(retired());
                }
                finishRequest(p);
                return true;
            }
            return false;
        });
        return out;
    }

    /**
     * One prefill for the admitted prompts (row i is prompt i); each choice becomes a sequence that
     * remembers its prompt's row, and its first token is sampled. Null when no sequence continues.
     */
    private PolicyEngine.Step prefill(List<Pending> admitted, List<Sequence> joined) {
        for (Pending p : admitted) {
            openChoices.put(p, p.request().n());
        }
        List<int[]> prompts = admitted.stream().map(p -> p.request().prompt()).toList();
        PolicyEngine.Step step = engine.prefill(prompts);
        for (int i = 0; i < admitted.size(); i++) {
            Pending p = admitted.get(i);
            GenerationRequest req = p.request();
            if (req.promptLogprobs()) {
                p.sink()
                        .onPrompt(OutputProcessor.promptTokens(
                                engine.tokenizer(), req.prompt(), step.prompt(), i, req.topLogprobs()));
            }
            for (int c = 0; c < p.request().n(); c++) {
                Sequence s = new Sequence(p, c);
                if (s.budget <= 0) {
                    finish(s, FinishReason.LENGTH);
                    continue;
                }
                s.prefillRow = i;
                accept(s, step.logits()[i]);
                if (!s.done) {
                    joined.add(s);
                }
            }
        }
        if (joined.isEmpty()) {
            step.batch().close();
            return null;
        }
        return step;
    }

    private static int[] liveRows(List<Sequence> running) {
        List<Integer> live = new ArrayList<>();
        for (int r = 0; r < running.size(); r++) {
            if (!running.get(r).done) {
                live.add(r);
            }
        }
        return live.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] freshRows(List<Sequence> joined) {
        return joined.stream().mapToInt(x -> x.prefillRow).toArray();
    }

    /**
     * Lets finished and cancelled sequences go. Their rows stay in the batch (computed, ignored) until
     * they outnumber the live ones or new requests arrive: a re-layout copies every cache, which costs
     * more than decoding a few idle rows.
     */
    private PolicyEngine.Batch dropFinished(List<Sequence> running, PolicyEngine.Batch batch) {
        for (Sequence s : running) {
            if (!s.done && (s.owner.handle().cancelled || cancelAll)) {
                s.done = true;
                if (!s.owner.handle().cancelled && openChoices.containsKey(s.owner)) {
                    // Retired past the drain limit: the client hears so instead of waiting on a stream.
                    s.owner.sink().onError(retired());
                    openChoices.put(s.owner, 1);
                }
                choiceEnded(s.owner);
            }
        }
        int[] live = liveRows(running);
        if (live.length == running.size()) {
            return batch;
        }
        if (live.length == 0) {
            running.clear();
            if (batch != null) {
                batch.close();
            }
            return null;
        }
        // An idle row still advances; it must leave before it walks off the context window.
        int window = engine.config().maxPositions();
        boolean nearEdge = running.stream().anyMatch(s -> s.done && s.nextPosition() >= window - 2);
        if (running.size() - live.length <= live.length && !nearEdge) {
            return batch;
        }
        running.removeIf(s -> s.done);
        return engine.select(batch, live);
    }

    /**
     * Samples the next token of {@code s} and reports it; marks {@code s} done when it ends. EOS is
     * reported too (no text, its log-prob), and counted, as vLLM does: a client scoring a continuation
     * (lm-eval reads {@code token_logprobs[ctxlen:-1]}) relies on one entry per generated token.
     */
    private void accept(Sequence s, float[] logits) {
        SamplingParams p = s.owner.request().params();
        int token = Sampler.sample(logits, p, s.rng);
        s.generated++;
        s.last = token;
        if (engine.config().isEos(token) && !p.ignoreEos()) {
            s.output.token(token, logits);
            finish(s, FinishReason.STOP);
            return;
        }
        if (s.output.token(token, logits)) {
            finish(s, FinishReason.STOP);
        } else if (s.generated >= s.budget) {
            finish(s, FinishReason.LENGTH);
        }
    }

    private void finish(Sequence s, FinishReason reason) {
        s.done = true;
        s.output.finish(reason, s.generated);
        choiceEnded(s.owner);
    }

    private void choiceEnded(Pending p) {
        Integer left = openChoices.computeIfPresent(p, (k, v) -> v - 1);
        if (left != null && left == 0) {
            openChoices.remove(p);
            finishRequest(p);
        }
    }

    private void finishRequest(Pending p) {
        inFlight.decrementAndGet();
    }

    private static IllegalStateException retired() {
        return new IllegalStateException("the model version was retired before this request finished (it "
                + "outlived the drain limit of " + DRAIN_LIMIT.toMinutes() + " minutes); send it again");
    }

    /** Fails every request still open here (admitted or running); finished ones are not touched. */
    private void failOpen(Throwable e) {
        for (Pending p : List.copyOf(openChoices.keySet())) {
            openChoices.remove(p);
            p.sink().onError(e);
            finishRequest(p);
        }
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
