package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the generating endpoints share: validate on the event loop, authenticate and tokenize on a
 * worker with the tokenizer of the scheduler that will run the request, then hand it to an
 * {@link Exchange}. A promotion can retire that scheduler in between; the request then goes to the new
 * one (tokenized again: versions may differ in tokenizer), so a swap never fails a request.
 *
 * @param <P> the endpoint's validated request
 */
abstract class GenerationHandler<P> implements Handler<RoutingContext> {

    static final String ALIAS = "rlhf4j";

    /**
     * What every generating endpoint runs with: one of these serves both of them.
     *
     * @param quotas the per-caller cost limits, shared by every generating endpoint
     * @param pool the bulkhead that authenticates and tokenizes generation requests
     * @param clock what responses and the prompt log are stamped with (its time orders the labeling queue)
     */
    record Services(
            Vertx vertx,
            ModelRouter router,
            LogWriter logs,
            ServingMetrics metrics,
            Auth auth,
            Quotas quotas,
            Bulkhead pool,
            Clock clock) {}

    private final Services services;

    GenerationHandler(Services services) {
        this.services = services;
    }

    /** The endpoint's name in the request services.metrics(). */
    abstract String endpoint();

    abstract P parse(JsonNode body, int window);

    abstract Fields.Common common(P params);

    /** How many prompts the request holds. */
    abstract int prompts(P params);

    /** On a worker thread: the prompts as the scheduler's model reads them, or the 400 that says why not. */
    abstract Exchange.Work work(Scheduler scheduler, P params);

    abstract Exchange.Format format(P params);

    @Override
    public final void handle(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        long arrived = System.nanoTime();
        long arrivedAt = services.clock().millis();
        AtomicReference<Quotas.Lease> lease = new AtomicReference<>();
        // A request's quota lease is held from the moment it is queued until its response ends or
        // its client leaves, whichever comes first.
        response.endHandler(v -> {
            services.metrics().request(endpoint(), response.getStatusCode(), System.nanoTime() - arrived);
            release(lease);
        });
        P params;
        try {
            JsonNode body;
            try {
                body = Json.MAPPER.readTree(
                        ctx.body().buffer() == null
                                ? new byte[0]
                                : ctx.body().buffer().getBytes());
            } catch (java.io.IOException e) {
                throw ApiError.invalid(null, "the request body is not valid JSON");
            }
            Scheduler scheduler = services.router().current();
            if (scheduler == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            params = parse(body, scheduler.engine().config().maxPositions());
            // Each completion holds buffers until the request ends: bound them before anything is tokenized.
            long completions = (long) prompts(params) * common(params).n();
            int most = services.quotas().limits().completionsPerRequest();
            if (completions > most) {
                throw ApiError.invalid(
                        "prompt",
                        prompts(params) + " prompts x n = " + common(params).n() + " asks for " + completions
                                + " completions; at most " + most + " are allowed in one request");
            }
            String model = common(params).model();
            String version = scheduler.engine().version();
            if (model != null && !model.equals(version) && !model.equals(ALIAS)) {
                throw ApiError.notFound(
                        "model",
                        "model_not_found",
                        "model '" + model + "' is not served; the active version is '" + version + "' (or use '" + ALIAS
                                + "')");
            }
        } catch (ApiError e) {
            e.send(response);
            return;
        } catch (IllegalArgumentException e) {
            ApiError.invalid(null, e.getMessage()).send(response);
            return;
        }
        admit(
                services.vertx().getOrCreateContext(),
                response,
                ctx.request().getHeader("authorization"),
                params,
                arrived,
                arrivedAt,
                lease,
                0);
    }

    private static void release(AtomicReference<Quotas.Lease> lease) {
        Quotas.Lease l = lease.getAndSet(null);
        if (l != null) {
            l.release();
        }
    }

    private record Admitted(Auth.Principal who, Scheduler scheduler, Exchange.Work work, Quotas.Lease lease) {}

    /** What a request may cost: its prompt tokens and all it may generate, as the window allows. */
    static long cost(Exchange.Work work, int window) {
        long tokens = 0;
        for (int[] prompt : work.prompts()) {
            tokens += prompt.length
                    + (long) work.n() * Math.max(0, Math.min(work.sampling().maxTokens(), window - prompt.length));
        }
        return tokens;
    }

    private void admit(
            Context context,
            HttpServerResponse response,
            String authorization,
            P params,
            long arrived,
            long arrivedAt,
            AtomicReference<Quotas.Lease> lease,
            int attempt) {
        services.pool()
                .run(() -> {
                    Scheduler scheduler = services.router().current();
                    if (scheduler == null) {
                        throw ApiError.overloaded("no model version is active yet");
                    }
                    Auth.Principal who = services.auth()
                            .authenticate(authorization, common(params).user());
                    if (common(params).n() > scheduler.limits().maxRows()) {
                        throw ApiError.invalid(
                                "n",
                                "n must be at most " + scheduler.limits().maxRows()
                                        + " on this server (its batch size)");
                    }
                    Exchange.Work work = work(scheduler, params);
                    if (services.logs().room() < work.prompts().size()) {
                        throw ApiError.overloaded(
                                        "the prompt log is backed up (the store is slow to commit): " + "retry shortly")
                                .retryAfter(1);
                    }
                    // Last, so that nothing after it can fail with the tokens spent.
                    Quotas.Lease held = services.quotas()
                            .acquire(
                                    who.caller(),
                                    cost(work, scheduler.engine().config().maxPositions()));
                    return new Admitted(who, scheduler, work, held);
                })
                .onComplete(ar -> {
                    if (ar.failed()) {
                        ApiError.of(ar.cause()).send(response);
                        return;
                    }
                    Admitted a = ar.result();
                    Exchange.Start started;
                    try {
                        started = new Exchange(
                                        context,
                                        response,
                                        a.scheduler(),
                                        a.work(),
                                        format(params),
                                        services.logs(),
                                        services.metrics(),
                                        arrived,
                                        arrivedAt,
                                        a.who(),
                                        services.quotas().limits().streamBufferBytes(),
                                        () -> release(lease))
                                .start();
                    } catch (RuntimeException e) {
                        a.lease().refund(); // nothing may leave a caller's slot taken
                        ApiError.internal(e.getMessage()).send(response);
                        return;
                    }
                    switch (started) {
                        case STARTED -> {
                            lease.set(a.lease());
                            if (response.closed() || response.ended()) {
                                release(lease); // it ended or its client left before the lease was held
                            }
                        }
                        case ANSWERED -> a.lease().refund();
                        case RETRY -> {
                            a.lease().refund();
                            if (attempt < 3) {
                                admit(context, response, authorization, params, arrived, arrivedAt, lease, attempt + 1);
                            } else {
                                ApiError.overloaded("the model is being swapped; retry shortly")
                                        .send(response);
                            }
                        }
                    }
                });
    }

    /** Refuses a prompt the model cannot take. */
    static int[] checkedPrompt(int[] ids, int window, String field) {
        if (ids.length == 0) {
            throw ApiError.invalid(field, "the prompt is empty and the model has no BOS token");
        }
        if (ids.length >= window) {
            throw ApiError.invalid(
                    field,
                    "the prompt is " + ids.length + " tokens; this model's context " + "window is " + window
                            + " tokens");
        }
        return ids;
    }

    /**
     * The fields that {@code /v1/completions} and {@code /v1/chat/completions} share, read from a request
     * body with a 400 naming the field when one is wrong.
     */
    static final class Fields {

        static final int MAX_N = 16;
        static final int MAX_STOPS = 4;

        /** What both endpoints take besides their prompt. */
        record Common(
                String model,
                SamplingParams sampling,
                int n,
                boolean stream,
                boolean includeUsage,
                String user,
                boolean consent) {}

        private Fields() {}

        static JsonNode object(JsonNode b) {
            if (b == null || !b.isObject()) {
                throw ApiError.invalid(null, "the request body must be a JSON object");
            }
            return b;
        }

        /** The shared fields; {@code maxTokens} is the endpoint's own reading of its length field. */
        static Common common(JsonNode b, int maxTokens) {
            String model = optionalText(b, "model");
            double temperature = number(b, "temperature", 1.0, 0, 2);
            double topP = number(b, "top_p", 1.0, 0, 1);
            if (topP == 0) {
                throw ApiError.invalid("top_p", "top_p must be greater than 0");
            }
            int topK = integer(b, "top_k", 0, -1, Integer.MAX_VALUE);
            int n = integer(b, "n", 1, 1, MAX_N);
            boolean stream = bool(b, "stream", false);
            boolean includeUsage = false;
            JsonNode options = b.get("stream_options");
            if (options != null && !options.isNull()) {
                if (!options.isObject()) {
                    throw ApiError.invalid("stream_options", "stream_options must be an object");
                }
                if (!stream) {
                    throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
                }
                includeUsage = bool(options, "include_usage", false);
            }
            String user = optionalText(b, "user");
            boolean consent = bool(b, "training_consent", true);
            Long seed = null;
            if (b.hasNonNull("seed")) {
                if (!b.get("seed").canConvertToLong() || !b.get("seed").isIntegralNumber()) {
                    throw ApiError.invalid("seed", "seed must be an integer");
                }
                seed = b.get("seed").asLong();
            }
            // vLLM's extension: generate max_tokens whatever the model says (benchmarks, load tests).
            boolean ignoreEos = bool(b, "ignore_eos", false);
            SamplingParams sampling =
                    new SamplingParams(maxTokens, temperature, topP, Math.max(0, topK), stop(b), seed, ignoreEos);
            return new Common(model, sampling, n, stream, includeUsage, user, consent);
        }

        private static List<String> stop(JsonNode b) {
            List<String> stop = new ArrayList<>();
            JsonNode s = b.get("stop");
            if (s == null || s.isNull()) {
                return stop;
            }
            if (s.isTextual()) {
                stop.add(s.asText());
            } else if (s.isArray()) {
                for (JsonNode e : s) {
                    if (!e.isTextual()) {
                        throw ApiError.invalid("stop", "stop must be a string or a list of strings");
                    }
                    stop.add(e.asText());
                }
            } else {
                throw ApiError.invalid("stop", "stop must be a string or a list of strings");
            }
            if (stop.size() > MAX_STOPS) {
                throw ApiError.invalid("stop", "at most " + MAX_STOPS + " stop sequences are allowed");
            }
            if (stop.stream().anyMatch(String::isEmpty)) {
                throw ApiError.invalid("stop", "stop sequences must not be empty");
            }
            return stop;
        }

        static String optionalText(JsonNode b, String field) {
            JsonNode v = b.get(field);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isTextual()) {
                throw ApiError.invalid(field, field + " must be a string");
            }
            return v.asText();
        }

        static int integer(JsonNode b, String field, int dflt, int min, int max) {
            JsonNode v = b.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw ApiError.invalid(field, field + " must be an integer");
            }
            int x = v.asInt();
            if (x < min || x > max) {
                throw ApiError.invalid(field, field + " must be between " + min + " and " + max + ", got " + x);
            }
            return x;
        }

        static double number(JsonNode b, String field, double dflt, double min, double max) {
            JsonNode v = b.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isNumber()) {
                throw ApiError.invalid(field, field + " must be a number");
            }
            double x = v.asDouble();
            if (!(x >= min && x <= max)) {
                throw ApiError.invalid(field, field + " must be between " + min + " and " + max + ", got " + x);
            }
            return x;
        }

        static boolean bool(JsonNode b, String field, boolean dflt) {
            JsonNode v = b.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw ApiError.invalid(field, field + " must be true or false");
            }
            return v.asBoolean();
        }
    }
}
