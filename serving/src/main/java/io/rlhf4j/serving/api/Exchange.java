package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.chat.ChatMessage;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.scheduler.GenerationRequest;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * One generation request's life on the event loop, whichever endpoint took it: its prompts go to the
 * scheduler, each choice's tokens are gathered as they come, and once every choice has finished the
 * request is logged and answered after the log has committed. The {@link Format} decides what the
 * client sees (completions' or chat's shape); a client that goes away cancels its generation.
 */
final class Exchange {

    /**
     * What the scheduler runs: tokenized prompts, the text each is logged under, and for a chat request
     * the conversation that text was rendered from (logged beside it; empty for completions).
     */
    record Work(
            List<int[]> prompts,
            List<String> loggedPrompts,
            List<ChatMessage> messages,
            SamplingParams sampling,
            int n,
            int topLogprobs,
            boolean promptLogprobs,
            boolean stream,
            boolean includeUsage,
            boolean consent) {}

    /** How the response looks to the client. Stream methods write chunks; {@link #body} is the whole answer. */
    interface Format {
        String idPrefix();

        /** Streaming: what comes before any token. */
        void opened(Exchange x);

        /** Streaming: prompt {@code p}'s tokens were scored (only when the work asked for it). */
        default void prompted(Exchange x, int p) {}

        /** Streaming: one token of choice {@code index}. */
        void token(Exchange x, int index, Sink.Token token);

        /** Streaming: choice {@code index} ended. */
        void finished(Exchange x, int index);

        /** Streaming: after every choice and before {@code [DONE]}. */
        void closing(Exchange x);

        ObjectNode body(Exchange x);
    }

    /** One choice as it builds up. */
    static final class Choice {
        final StringBuilder text = new StringBuilder();
        final List<String> tokens = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();
        final List<Map<String, Float>> top = new ArrayList<>();
        final List<Integer> offsets = new ArrayList<>();
        FinishReason finish = FinishReason.LENGTH;
        int completionTokens;
    }

    final Context context;
    final HttpServerResponse response;
    final Work work;
    final String id;
    final long created;
    final String version;
    final Choice[] choices;
    /** Per prompt, its tokens as scored by the prefill; null until then, or when not asked for. */
    final List<List<Sink.Token>> promptTokens;

    private final Scheduler scheduler;
    private final Format format;
    private final LogWriter logs;
    private final ServingMetrics metrics;
    private final List<Scheduler.Handle> handles = new ArrayList<>();
    private final long arrived;
    /**
     * When the request arrived, by the clock: its log's time. A deletion of its user after that drops
     * the log even if it commits later.
     */
    private final long arrivedAt;

    private final Auth.Principal who;
    /** Bytes a stream may have written and its client not yet read. */
    private final int streamBuffer;
    /** Called when the client goes away before the response ended. */
    private final Runnable left;

    private int open;
    private boolean failed;
    private boolean firstToken;

    Exchange(
            Context context,
            HttpServerResponse response,
            Scheduler scheduler,
            Work work,
            Format format,
            LogWriter logs,
            ServingMetrics metrics,
            long arrived,
            long arrivedAt,
            Auth.Principal who,
            int streamBuffer,
            Runnable left) {
        this.streamBuffer = streamBuffer;
        this.left = left;
        this.arrivedAt = arrivedAt;
        this.created = arrivedAt / 1000;
        this.context = context;
        this.response = response;
        this.scheduler = scheduler;
        this.work = work;
        this.format = format;
        this.logs = logs;
        this.metrics = metrics;
        this.arrived = arrived;
        this.who = who;
        this.id = format.idPrefix() + UUID.randomUUID().toString().replace("-", "");
        this.version = scheduler.engine().version();
        this.choices = new Choice[work.prompts().size() * work.n()];
        for (int i = 0; i < choices.length; i++) {
            choices[i] = new Choice();
        }
        this.open = choices.length;
        this.promptTokens = new ArrayList<>(Collections.nCopies(work.prompts().size(), null));
    }

    /** What {@link #start} did. */
    enum Start {
        /** Queued (or the client had already left): the request's lease is held until it ends. */
        STARTED,
        /** Refused and answered (503): the lease goes back. */
        ANSWERED,
        /** The scheduler was retiring: nothing was sent, the request belongs on the next one. */
        RETRY
    }

    /** Submits every prompt, whole or not at all. */
    Start start() {
        if (response.closed()) {
            // The client left while we tokenized: nothing to generate for. The caller, which holds the
            // lease only from here on, sees the closed response and releases it.
            return Start.STARTED;
        }
        List<GenerationRequest> requests = new ArrayList<>();
        List<Sink> sinks = new ArrayList<>();
        for (int p = 0; p < work.prompts().size(); p++) {
            requests.add(new GenerationRequest(
                    work.prompts().get(p),
                    work.sampling(),
                    work.n(),
                    Math.max(0, work.topLogprobs()),
                    work.promptLogprobs()));
            sinks.add(sink(p));
        }
        // Whole or not at all: a refused request leaves nothing queued behind it.
        Optional<List<Scheduler.Handle>> h = scheduler.submit(who.caller(), requests, sinks);
        if (h.isEmpty()) {
            failed = true;
            // One reading of the scheduler's state decides, so a request is retried or answered, never both.
            if (scheduler.isClosing()) {
                return Start.RETRY;
            }
            ApiError.overloaded(
                            scheduler.queued() + requests.size()
                                            > scheduler.limits().queueCapacity()
                                    ? "the server is at capacity; retry shortly"
                                    : "this caller already has as many prompts waiting as one caller may ("
                                            + scheduler.queuePerCaller() + "); retry shortly")
                    .send(response);
            return Start.ANSWERED;
        }
        handles.addAll(h.get());
        response.closeHandler(v -> {
            // What still waits leaves the queue now, not when the scheduler reaches it.
            scheduler.cancel(who.caller(), handles);
            left.run();
        });
        response.putHeader("x-rlhf4j-version", version);
        if (work.stream()) {
            response.setWriteQueueMaxSize(streamBuffer);
            response.setChunked(true)
                    .putHeader("content-type", "text/event-stream")
                    .putHeader("cache-control", "no-cache");
            format.opened(this);
        }
        return Start.STARTED;
    }

    /**
     * Writes one server-sent event. Generation does not wait for a slow reader, so what a client has
     * not read piles up here; once it exceeds the stream buffer the client is taken to have stopped
     * reading: its generation is cancelled and its connection closed (it is not logged, as for a
     * client that hangs up), instead of the server holding its stream without bound.
     */
    void send(ObjectNode chunk) {
        if (response.closed() || failed) {
            return;
        }
        response.write("data: " + chunk + "\n\n");
        if (response.writeQueueFull()) {
            failed = true;
            handles.forEach(Scheduler.Handle::cancel);
            metrics.slowStream();
            response.reset();
        }
    }

    int promptTokens() {
        return work.prompts().stream().mapToInt(p -> p.length).sum();
    }

    int completionTokens() {
        int total = 0;
        for (Choice c : choices) {
            total += c.completionTokens;
        }
        return total;
    }

    ObjectNode usage() {
        ObjectNode usage = Json.MAPPER.createObjectNode();
        usage.put("prompt_tokens", promptTokens());
        usage.put("completion_tokens", completionTokens());
        usage.put("total_tokens", promptTokens() + completionTokens());
        return usage;
    }

    private Sink sink(int prompt) {
        int offset = prompt * work.n();
        return new Sink() {
            @Override
            public void onPrompt(List<Token> tokens) {
                context.runOnContext(v -> prompted(prompt, tokens));
            }

            @Override
            public void onToken(int choice, Token token) {
                context.runOnContext(v -> token(offset + choice, token));
            }

            @Override
            public void onFinish(int choice, String text, FinishReason reason, int tokens) {
                context.runOnContext(v -> finish(offset + choice, text, reason, tokens));
            }

            @Override
            public void onError(Throwable error) {
                context.runOnContext(v -> fail(error));
            }
        };
    }

    private void prompted(int p, List<Sink.Token> tokens) {
        if (failed) {
            return;
        }
        promptTokens.set(p, tokens);
        if (work.stream() && !response.closed()) {
            format.prompted(this, p);
        }
    }

    private void token(int index, Sink.Token t) {
        if (failed) {
            return;
        }
        Choice c = choices[index];
        if (t.id() >= 0 && !firstToken) {
            firstToken = true;
            metrics.firstToken(System.nanoTime() - arrived);
        }
        if (t.id() >= 0) {
            c.tokens.add(t.text());
            c.logprobs.add(t.logprob());
            c.top.add(t.top());
            c.offsets.add(c.text.length());
        }
        c.text.append(t.delta());
        if (work.stream() && !response.closed()) {
            format.token(this, index, t);
        }
    }

    private void finish(int index, String text, FinishReason reason, int tokens) {
        if (failed) {
            return;
        }
        Choice c = choices[index];
        c.finish = reason;
        c.completionTokens = tokens;
        metrics.tokens(tokens);
        c.text.setLength(0);
        c.text.append(text);
        if (work.stream() && !response.closed()) {
            format.finished(this, index);
        }
        if (--open == 0) {
            complete();
        }
    }

    private void fail(Throwable error) {
        if (failed) {
            return;
        }
        failed = true;
        handles.forEach(Scheduler.Handle::cancel);
        ApiError.internal("generation failed: " + error.getMessage()).send(response);
    }

    /** Every choice is done: log the request, and answer once the log has committed. */
    private void complete() {
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (int p = 0; p < work.prompts().size(); p++) {
            acks.add(logs.submit(promptLog(p)));
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
                .whenComplete((ok, err) -> context.runOnContext(v -> {
                    if (err != null) {
                        fail(err.getCause() != null ? err.getCause() : err);
                        return;
                    }
                    if (response.closed()) {
                        return;
                    }
                    if (work.stream()) {
                        format.closing(this);
                        response.end("data: [DONE]\n\n");
                    } else {
                        response.putHeader("content-type", "application/json")
                                .end(format.body(this).toString());
                    }
                }));
    }

    private PromptLog promptLog(int p) {
        List<PromptLog.Completion> cs = new ArrayList<>();
        for (int c = 0; c < work.n(); c++) {
            Choice ch = choices[p * work.n() + c];
            float[] lp = new float[ch.logprobs.size()];
            for (int i = 0; i < lp.length; i++) {
                lp[i] = ch.logprobs.get(i);
            }
            cs.add(new PromptLog.Completion(c, ch.text.toString(), ch.completionTokens, lp, ch.finish.openAiName()));
        }
        ObjectNode sampling = Json.MAPPER.valueToTree(work.sampling());
        sampling.put("n", work.n());
        return new PromptLog(
                id + "-" + p,
                who.userId(),
                work.consent(),
                "api",
                work.loggedPrompts().get(p),
                version,
                sampling.toString(),
                arrivedAt,
                cs,
                work.messages());
    }
}
