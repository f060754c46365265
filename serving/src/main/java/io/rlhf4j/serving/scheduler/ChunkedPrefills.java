package io.rlhf4j.serving.scheduler;

import io.rlhf4j.serving.engine.PolicyEngine;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Long prompts prefilled one chunk per scheduler iteration, oldest first, so that between chunks the
 * running rows take their decode steps (vLLM's chunked prefill). The first chunk starts after what the
 * engine's prefix cache holds for the prompt; each later one extends the prompt's one-row cache. Owned
 * by the scheduler's thread.
 *
 * @param <P> what the scheduler knows a request by
 */
final class ChunkedPrefills<P> {

    /** A prompt whose last chunk is in: {@code step} holds its cache and the logits after its last token. */
    record Done<P>(P owner, PolicyEngine.Step step) {}

    private static final class Entry<P> {
        final P owner;
        final int[] prompt;
        final int rows;
        PolicyEngine.Batch partial;
        int filled;

        Entry(P owner, int[] prompt, int rows) {
            this.owner = owner;
            this.prompt = prompt;
            this.rows = rows;
        }
    }

    private final PolicyEngine engine;
    private final int chunk;
    private final ArrayDeque<Entry<P>> queue = new ArrayDeque<>();

    ChunkedPrefills(PolicyEngine engine, int chunk) {
        this.engine = engine;
        this.chunk = chunk;
    }

    /** Whether {@code prompt} has more than one chunk to compute beyond its cached prefix. */
    boolean needs(int[] prompt) {
        return prompt.length - engine.cachedPrefix(prompt) > chunk;
    }

    /** Queues a prompt whose choices will take {@code rows} rows once it is in. */
    void add(P owner, int[] prompt, int rows) {
        queue.add(new Entry<>(owner, prompt, rows));
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Rows the queued prompts will take: the scheduler keeps room for them. */
    int rows() {
        return queue.stream().mapToInt(e -> e.rows).sum();
    }

    P oldest() {
        return queue.peek().owner;
    }

    /** Takes the oldest prompt out unfinished (its request was cancelled), freeing its cache. */
    P dropOldest() {
        Entry<P> e = queue.poll();
        BatchLoop.closeQuietly(e.partial);
        return e.owner;
    }

    /** Takes every prompt out unfinished, freeing their caches. */
    List<P> drain() {
        List<P> out = new ArrayList<>();
        while (!queue.isEmpty()) {
            out.add(dropOldest());
        }
        return out;
    }

    /** Prefills the oldest prompt's next chunk: its finished prefill if that was the last, else null. */
    Done<P> advance() {
        Entry<P> e = queue.peek();
        PolicyEngine.Step step;
        if (e.partial == null) {
            e.filled = Math.min(e.prompt.length, engine.cachedPrefix(e.prompt) + chunk);
            step = engine.prefill(List.of(Arrays.copyOf(e.prompt, e.filled)), new boolean[] {true});
        } else {
            e.filled = Math.min(e.prompt.length, e.filled + chunk);
            PolicyEngine.Batch partial = e.partial;
            e.partial = null; // extend consumes it, even when it fails
            step = engine.extend(partial, e.prompt, e.filled);
        }
        e.partial = step.batch();
        if (e.filled < e.prompt.length) {
            return null;
        }
        queue.poll();
        return new Done<>(e.owner, step);
    }
}
