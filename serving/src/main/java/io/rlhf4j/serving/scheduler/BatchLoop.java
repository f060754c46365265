package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.serving.engine.PolicyEngine;
import io.rlhf4j.serving.scheduler.Scheduler.Pending;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The scheduler's thread: it alone holds the engine, the running batch and the sequences in it. Each
 * iteration admits waiting requests (prefilled whole, or queued for {@link ChunkedPrefills}), or
 * prefills the next chunk of a long prompt, then advances every running sequence by one decode step;
 * finished and cancelled sequences leave the batch. It decides and samples; the engine executes.
 */
final class BatchLoop {

    private final Scheduler owner;
    private final PolicyEngine engine;
    private final Scheduler.Limits limits;
    private final WaitQueue<Pending> queue;
    private final ChunkedPrefills<Pending> chunking;

    BatchLoop(Scheduler owner, PolicyEngine engine, Scheduler.Limits limits) {
        this.owner = owner;
        this.engine = engine;
        this.limits = limits;
        this.queue = owner.waiting();
        this.chunking = new ChunkedPrefills<>(engine, limits.prefillChunk());
    }

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

    void run() {
        List<Sequence> running = new ArrayList<>();
        PolicyEngine.Batch batch = null;
        boolean admittedLast = false;
        try {
            while (!(owner.isClosing() && running.isEmpty() && queue.isEmpty() && chunking.isEmpty())) {
                // While a long prompt is prefilled in chunks, admissions take every other iteration at
                // most, so a steady stream of short requests cannot hold its chunks back for good.
                List<Pending> admitted = chunking.isEmpty() || !admittedLast
                        ? chunkLongPrompts(admit(liveRows(running).length + chunking.rows()))
                        : List.of();
                admittedLast = !admitted.isEmpty();
                try {
                    if (!admitted.isEmpty()) {
                        List<Sequence> joined = new ArrayList<>();
                        PolicyEngine.Step fresh = prefill(admitted, joined);
                        if (fresh != null) {
                            batch = join(running, batch, fresh, joined);
                        }
                    } else if (!chunking.isEmpty()) {
                        batch = advanceChunk(running, batch);
                    }
                    if (admitted.isEmpty() && !running.isEmpty()) {
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
                    failChunking(e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable fatal) {
            // Out of memory or worse: stop taking requests and answer every one we hold.
            owner.stopTaking();
            failOpen(fatal);
            failChunking(fatal);
            for (Pending p : queue.drain()) {
                p.sink().onError(fatal);
                finishRequest(p);
            }
        } finally {
            closeQuietly(batch);
            failChunking(new IllegalStateException("the scheduler stopped before this prompt was prefilled"));
            // The engine is closed here, by the thread that runs it, never under a running session.
            engine.close();
            owner.loopEnded();
        }
    }

    /**
     * Moves the admitted prompts that need more than one chunk of prefill to the chunked prefills; the
     * rest are prefilled whole. A request for prompt log-probs needs every prompt position's logits from
     * one forward, so it is never chunked.
     */
    private List<Pending> chunkLongPrompts(List<Pending> admitted) {
        List<Pending> whole = new ArrayList<>();
        for (Pending p : admitted) {
            if (!p.request().promptLogprobs() && chunking.needs(p.request().prompt())) {
                chunking.add(p, p.request().prompt(), p.request().n());
            } else {
                whole.add(p);
            }
        }
        return whole;
    }

    /**
     * The next chunk of the oldest long prompt; when it was the last, the prompt's choices start (first
     * token sampled) and join the running batch, which is returned.
     */
    private PolicyEngine.Batch advanceChunk(List<Sequence> running, PolicyEngine.Batch batch) {
        Pending oldest = chunking.oldest();
        if (oldest.handle().cancelled || owner.cancellingAll()) {
            chunking.dropOldest();
            if (!oldest.handle().cancelled) {
                oldest.sink().onError(Scheduler.retired());
            }
            finishRequest(oldest);
            return batch;
        }
        ChunkedPrefills.Done<Pending> done = chunking.advance();
        if (done == null) {
            return batch; // more chunks to come; the running rows take their decode step meanwhile
        }
        openChoices.put(done.owner(), done.owner().request().n());
        List<Sequence> joined = new ArrayList<>();
        PolicyEngine.Step last;
        try {
            last = start(List.of(done.owner()), done.step(), joined);
        } catch (RuntimeException e) {
            closeQuietly(done.step().batch());
            throw e;
        }
        return last == null ? batch : join(running, batch, last, joined);
    }

    /**
     * The running batch with the sequences that just started ({@code joined}, from {@code fresh}'s
     * rows) added: one re-layout both drops the rows that finished and adds the new ones.
     */
    private PolicyEngine.Batch join(
            List<Sequence> running, PolicyEngine.Batch batch, PolicyEngine.Step fresh, List<Sequence> joined) {
        int[] live = liveRows(running);
        running.removeIf(x -> x.done);
        PolicyEngine.Batch merged = engine.merge(batch, live, fresh.batch(), freshRows(joined));
        running.addAll(joined);
        return merged;
    }

    static PolicyEngine.Batch closeQuietly(PolicyEngine.Batch batch) {
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
            if (p.handle().cancelled || owner.cancellingAll()) {
                if (!p.handle().cancelled) {
                    p.sink().onError(Scheduler.retired());
                }
                finishRequest(p);
                return true;
            }
            return false;
        });
        return out;
    }

    /** One prefill for the admitted prompts, then their choices ({@link #start}). */
    private PolicyEngine.Step prefill(List<Pending> admitted, List<Sequence> joined) {
        List<int[]> prompts = admitted.stream().map(p -> p.request().prompt()).toList();
        boolean[] reusePrefix = new boolean[prompts.size()];
        for (int i = 0; i < reusePrefix.length; i++) {
            // A cached prefix's prompt logits are not recomputed: echo log-probs need a full prefill.
            reusePrefix[i] = !admitted.get(i).request().promptLogprobs();
        }
        // Open before the engine runs: if the prefill fails, failOpen answers these requests too.
        for (Pending p : admitted) {
            openChoices.put(p, p.request().n());
        }
        return start(admitted, engine.prefill(prompts, reusePrefix), joined);
    }

    /**
     * The choices of prompts whose prefill is {@code step} (row i is prompt i; each already open in
     * {@code openChoices}): each remembers its prompt's row, and its first token is sampled. Null when
     * no sequence continues.
     */
    private PolicyEngine.Step start(List<Pending> admitted, PolicyEngine.Step step, List<Sequence> joined) {
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
            if (!s.done && (s.owner.handle().cancelled || owner.cancellingAll())) {
                s.done = true;
                if (!s.owner.handle().cancelled && openChoices.containsKey(s.owner)) {
                    // Retired past the drain limit: the client hears so instead of waiting on a stream.
                    s.owner.sink().onError(Scheduler.retired());
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
        owner.requestDone();
    }

    /** Fails the prompts still being prefilled in chunks. */
    private void failChunking(Throwable e) {
        for (Pending p : chunking.drain()) {
            p.sink().onError(e);
            finishRequest(p);
        }
    }

    /** Fails every request still open here (admitted or running); finished ones are not touched. */
    private void failOpen(Throwable e) {
        for (Pending p : List.copyOf(openChoices.keySet())) {
            openChoices.remove(p);
            p.sink().onError(e);
            finishRequest(p);
        }
    }
}
