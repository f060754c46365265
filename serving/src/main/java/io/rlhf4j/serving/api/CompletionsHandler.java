package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.core.store.PromptLog;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.scheduler.GenerationRequest;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * {@code POST /v1/completions}, OpenAI's legacy completions: validate on the event loop, tokenize on a
 * worker, hand the prompts to the active scheduler, and gather the tokens it produces back on the
 * event loop, streamed as server-sent events or answered as one JSON object once the prompt log has
 * committed. A client that goes away cancels its generation.
 */
final class CompletionsHandler implements Handler<RoutingContext> {

    static final String ALIAS = "rlhf4j";

    private final Vertx vertx;
    private final ModelRouter router;
    private final LogWriter logs;
    private final ServingMetrics metrics;
    private final Auth auth;
    private final Clock clock;

    /** @param clock what the prompt log is stamped with (its time orders the labeling queue) */
    CompletionsHandler(Vertx vertx, ModelRouter router, LogWriter logs, ServingMetrics metrics, Auth auth,
            Clock clock) {
        this.clock = clock;
        this.vertx = vertx;
        this.router = router;
        this.logs = logs;
        this.metrics = metrics;
        this.auth = auth;
    }

    @Override
    public void handle(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        long arrived = System.nanoTime();
        response.endHandler(v -> metrics.request("completions", response.getStatusCode(), System.nanoTime() - arrived));
        CompletionParams params;
        Scheduler scheduler;
        try {
            JsonNode body;
            try {
                body = ApiError.JSON.readTree(ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes());
            } catch (java.io.IOException e) {
                throw ApiError.invalid(null, "the request body is not valid JSON");
            }
            scheduler = router.current();
            if (scheduler == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            int window = scheduler.engine().config().maxPositions();
            params = CompletionParams.parse(body, window);
            String version = scheduler.engine().version();
            if (params.model() != null && !params.model().equals(version) && !params.model().equals(ALIAS)) {
                throw ApiError.notFound("model", "model_not_found", "model '" + params.model()
                        + "' is not served; the active version is '" + version + "' (or use '" + ALIAS + "')");
            }
        } catch (ApiError e) {
            e.send(response);
            return;
        } catch (IllegalArgumentException e) {
            ApiError.invalid(null, e.getMessage()).send(response);
            return;
        }
        Context context = vertx.getOrCreateContext();
        String authorization = ctx.request().getHeader("authorization");
        admit(context, response, authorization, params, arrived, 0);
    }

    private record Admitted(Auth.Principal who, Scheduler scheduler, List<int[]> prompts) {
    }

    /**
     * Authenticates and tokenizes on a worker with the tokenizer of the scheduler that will run the
     * request. A promotion can retire that scheduler in between; the request then goes to the new one
     * (tokenized again: versions may differ in tokenizer), so a swap never fails a request.
     */
    private void admit(Context context, HttpServerResponse response, String authorization, CompletionParams params,
            long arrived, int attempt) {
        vertx.executeBlocking(() -> {
            Scheduler scheduler = router.current();
            if (scheduler == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            return new Admitted(auth.authenticate(authorization, params.user()), scheduler,
                    tokenize(scheduler, params));
        }, false).onComplete(ar -> {
            if (ar.failed()) {
                (ar.cause() instanceof ApiError a ? a : ApiError.internal(ar.cause().getMessage())).send(response);
                return;
            }
            Admitted a = ar.result();
            Exchange exchange = new Exchange(context, response, a.scheduler(), params, a.prompts(), arrived, a.who());
            if (!exchange.start() && a.scheduler().isClosing()) {
                if (attempt < 3) {
                    admit(context, response, authorization, params, arrived, attempt + 1);
                } else {
                    ApiError.overloaded("the model is being swapped; retry shortly").send(response);
                }
            }
        });
    }

    private static List<int[]> tokenize(Scheduler scheduler, CompletionParams params) {
        if (params.n() > scheduler.limits().maxRows()) {
            throw ApiError.invalid("n", "n must be at most " + scheduler.limits().maxRows()
                    + " on this server (its batch size)");
        }
        var engine = scheduler.engine();
        int window = engine.config().maxPositions();
        List<int[]> out = new ArrayList<>();
        for (String p : params.prompts()) {
            int[] ids = engine.tokenizer().encode(p, true);
            if (ids.length == 0) {
                throw ApiError.invalid("prompt", "the prompt is empty and the model has no BOS token");
            }
            if (ids.length >= window) {
                throw ApiError.invalid("prompt", "the prompt is " + ids.length + " tokens; this model's context "
                        + "window is " + window + " tokens");
            }
            out.add(ids);
        }
        return out;
    }

    /** One request's life on the event loop. */
    private final class Exchange {
        final Context context;
        final HttpServerResponse response;
        final Scheduler scheduler;
        final CompletionParams params;
        final List<int[]> prompts;
        final String id = "cmpl-" + UUID.randomUUID().toString().replace("-", "");
        final long created = clock.millis() / 1000;
        final String version;
        final Choice[] choices;
        final List<Scheduler.Handle> handles = new ArrayList<>();
        final long arrived;
        final Auth.Principal who;
        int open;
        boolean failed;
        boolean firstToken;

        Exchange(Context context, HttpServerResponse response, Scheduler scheduler, CompletionParams params,
                List<int[]> prompts, long arrived, Auth.Principal who) {
            this.arrived = arrived;
            this.who = who;
            this.context = context;
            this.response = response;
            this.scheduler = scheduler;
            this.params = params;
            this.prompts = prompts;
            this.version = scheduler.engine().version();
            this.choices = new Choice[prompts.size() * params.n()];
            for (int i = 0; i < choices.length; i++) {
                choices[i] = new Choice();
            }
            this.open = choices.length;
        }

        /** Submits every prompt; false (nothing sent to the client) when the scheduler refused. */
        boolean start() {
            if (response.closed()) {
                return true; // the client left while we tokenized: nothing to generate for
            }
            for (int p = 0; p < prompts.size(); p++) {
                int offset = p * params.n();
                GenerationRequest req = new GenerationRequest(prompts.get(p), params.sampling(), params.n(),
                        params.logprobs() == null ? 0 : params.logprobs());
                Optional<Scheduler.Handle> h = scheduler.submit(req, sink(offset));
                if (h.isEmpty()) {
                    handles.forEach(Scheduler.Handle::cancel);
                    failed = true;
                    if (!scheduler.isClosing()) {
                        ApiError.overloaded("the server is at capacity; retry shortly").send(response);
                    }
                    return false;
                }
                handles.add(h.get());
            }
            response.closeHandler(v -> handles.forEach(Scheduler.Handle::cancel));
            response.putHeader("x-rlhf4j-version", version);
            if (params.stream()) {
                response.setChunked(true).putHeader("content-type", "text/event-stream")
                        .putHeader("cache-control", "no-cache");
            }
            if (params.stream() && params.echo()) {
                for (int p = 0; p < prompts.size(); p++) {
                    for (int c = 0; c < params.n(); c++) {
                        writeChunk(p * params.n() + c, params.prompts().get(p), null, null);
                    }
                }
            }
            return true;
        }

        Sink sink(int offset) {
            return new Sink() {
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

        void token(int index, Sink.Token t) {
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
            if (params.stream() && (!t.delta().isEmpty() || params.logprobs() != null) && !response.closed()) {
                writeChunk(index, t.delta(), params.logprobs() == null || t.id() < 0 ? null : logprobs(List.of(t.text()),
                        List.of(t.logprob()), List.of(t.top() == null ? Map.of() : t.top()), List.of(c.text.length()
                                - t.delta().length())), null);
            }
        }

        void finish(int index, String text, FinishReason reason, int tokens) {
            if (failed) {
                return;
            }
            Choice c = choices[index];
            c.finish = reason;
            c.completionTokens = tokens;
            metrics.tokens(tokens);
            c.text.setLength(0);
            c.text.append(text);
            if (params.stream() && !response.closed()) {
                writeChunk(index, "", null, reason.openAiName());
            }
            if (--open == 0) {
                complete();
            }
        }

        void fail(Throwable error) {
            if (failed) {
                return;
            }
            failed = true;
            handles.forEach(Scheduler.Handle::cancel);
            ApiError.internal("generation failed: " + error.getMessage()).send(response);
        }

        /** Every choice is done: log the request, and answer once the log has committed. */
        void complete() {
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int p = 0; p < prompts.size(); p++) {
                acks.add(logs.submit(promptLog(p)));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).whenComplete((ok, err) ->
                    context.runOnContext(v -> {
                        if (err != null) {
                            fail(err.getCause() != null ? err.getCause() : err);
                            return;
                        }
                        if (response.closed()) {
                            return;
                        }
                        if (params.stream()) {
                            response.end("data: [DONE]\n\n");
                        } else {
                            response.putHeader("content-type", "application/json").end(body().toString());
                        }
                    }));
        }

        PromptLog promptLog(int p) {
            List<PromptLog.Completion> cs = new ArrayList<>();
            for (int c = 0; c < params.n(); c++) {
                Choice ch = choices[p * params.n() + c];
                float[] lp = new float[ch.logprobs.size()];
                for (int i = 0; i < lp.length; i++) {
                    lp[i] = ch.logprobs.get(i);
                }
                cs.add(new PromptLog.Completion(c, ch.text.toString(), ch.completionTokens, lp,
                        ch.finish.openAiName()));
            }
            ObjectNode sampling = ApiError.JSON.valueToTree(params.sampling());
            sampling.put("n", params.n());
            return new PromptLog(id + "-" + p, who.userId(), params.consent(),
                    "api", params.prompts().get(p), version, sampling.toString(), clock.millis(), cs);
        }

        ObjectNode body() {
            ObjectNode root = ApiError.JSON.createObjectNode();
            root.put("id", id).put("object", "text_completion").put("created", created).put("model", version);
            ArrayNode list = root.putArray("choices");
            int completionTokens = 0;
            for (int i = 0; i < choices.length; i++) {
                Choice c = choices[i];
                completionTokens += c.completionTokens;
                ObjectNode o = list.addObject();
                String prefix = params.echo() ? params.prompts().get(i / params.n()) : "";
                o.put("text", prefix + c.text);
                o.put("index", i);
                if (params.logprobs() == null) {
                    o.putNull("logprobs");
                } else {
                    o.set("logprobs", logprobs(c.tokens, c.logprobs, c.top, c.offsets));
                }
                o.put("finish_reason", c.finish.openAiName());
            }
            int promptTokens = prompts.stream().mapToInt(p -> p.length).sum();
            ObjectNode usage = root.putObject("usage");
            usage.put("prompt_tokens", promptTokens);
            usage.put("completion_tokens", completionTokens);
            usage.put("total_tokens", promptTokens + completionTokens);
            return root;
        }

        void writeChunk(int index, String text, JsonNode logprobs, String finish) {
            ObjectNode root = ApiError.JSON.createObjectNode();
            root.put("id", id).put("object", "text_completion").put("created", created).put("model", version);
            ObjectNode o = root.putArray("choices").addObject();
            o.put("text", text);
            o.put("index", index);
            o.set("logprobs", logprobs);
            if (finish == null) {
                o.putNull("finish_reason");
            } else {
                o.put("finish_reason", finish);
            }
            response.write("data: " + root + "\n\n");
        }

        JsonNode logprobs(List<String> tokens, List<Float> lps, List<Map<String, Float>> top, List<Integer> offsets) {
            ObjectNode l = ApiError.JSON.createObjectNode();
            ArrayNode t = l.putArray("tokens");
            tokens.forEach(t::add);
            ArrayNode lp = l.putArray("token_logprobs");
            lps.forEach(lp::add);
            if (params.logprobs() != null && params.logprobs() > 0) {
                ArrayNode tl = l.putArray("top_logprobs");
                for (Map<String, Float> m : top) {
                    ObjectNode e = tl.addObject();
                    if (m != null) {
                        m.forEach(e::put);
                    }
                }
            } else {
                l.putNull("top_logprobs");
            }
            ArrayNode off = l.putArray("text_offset");
            offsets.forEach(off::add);
            return l;
        }
    }

    private static final class Choice {
        final StringBuilder text = new StringBuilder();
        final List<String> tokens = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();
        final List<Map<String, Float>> top = new ArrayList<>();
        final List<Integer> offsets = new ArrayList<>();
        FinishReason finish = FinishReason.LENGTH;
        int completionTokens;
    }
}
