package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
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

    private final Vertx vertx;
    private final ModelRouter router;
    private final LogWriter logs;
    private final ServingMetrics metrics;
    private final Auth auth;
    private final Clock clock;

    /** @param clock what responses and the prompt log are stamped with (its time orders the labeling queue) */
    GenerationHandler(Vertx vertx, ModelRouter router, LogWriter logs, ServingMetrics metrics, Auth auth,
            Clock clock) {
        this.clock = clock;
        this.vertx = vertx;
        this.router = router;
        this.logs = logs;
        this.metrics = metrics;
        this.auth = auth;
    }

    /** The endpoint's name in the request metrics. */
    abstract String endpoint();

    abstract P parse(JsonNode body, int window);

    abstract RequestFields.Common common(P params);

    /** On a worker thread: the prompts as the scheduler's model reads them, or the 400 that says why not. */
    abstract Exchange.Work work(Scheduler scheduler, P params);

    abstract Exchange.Format format(P params);

    @Override
    public final void handle(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        long arrived = System.nanoTime();
        response.endHandler(v -> metrics.request(endpoint(), response.getStatusCode(), System.nanoTime() - arrived));
        P params;
        try {
            JsonNode body;
            try {
                body = Json.MAPPER.readTree(ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes());
            } catch (java.io.IOException e) {
                throw ApiError.invalid(null, "the request body is not valid JSON");
            }
            Scheduler scheduler = router.current();
            if (scheduler == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            params = parse(body, scheduler.engine().config().maxPositions());
            String model = common(params).model();
            String version = scheduler.engine().version();
            if (model != null && !model.equals(version) && !model.equals(ALIAS)) {
                throw ApiError.notFound("model", "model_not_found", "model '" + model
                        + "' is not served; the active version is '" + version + "' (or use '" + ALIAS + "')");
            }
        } catch (ApiError e) {
            e.send(response);
            return;
        } catch (IllegalArgumentException e) {
            ApiError.invalid(null, e.getMessage()).send(response);
            return;
        }
        admit(vertx.getOrCreateContext(), response, ctx.request().getHeader("authorization"), params, arrived, 0);
    }

    private record Admitted(Auth.Principal who, Scheduler scheduler, Exchange.Work work) {
    }

    private void admit(Context context, HttpServerResponse response, String authorization, P params, long arrived,
            int attempt) {
        vertx.executeBlocking(() -> {
            Scheduler scheduler = router.current();
            if (scheduler == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            Auth.Principal who = auth.authenticate(authorization, common(params).user());
            if (common(params).n() > scheduler.limits().maxRows()) {
                throw ApiError.invalid("n", "n must be at most " + scheduler.limits().maxRows()
                        + " on this server (its batch size)");
            }
            return new Admitted(who, scheduler, work(scheduler, params));
        }, false).onComplete(ar -> {
            if (ar.failed()) {
                (ar.cause() instanceof ApiError a ? a : ApiError.internal(ar.cause().getMessage())).send(response);
                return;
            }
            Admitted a = ar.result();
            Exchange exchange = new Exchange(context, response, a.scheduler(), a.work(), format(params), logs, metrics,
                    clock, arrived, a.who());
            if (!exchange.start() && a.scheduler().isClosing()) {
                if (attempt < 3) {
                    admit(context, response, authorization, params, arrived, attempt + 1);
                } else {
                    ApiError.overloaded("the model is being swapped; retry shortly").send(response);
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
            throw ApiError.invalid(field, "the prompt is " + ids.length + " tokens; this model's context "
                    + "window is " + window + " tokens");
        }
        return ids;
    }
}
