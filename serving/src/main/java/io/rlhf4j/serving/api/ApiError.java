package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.concurrent.Callable;

/** An error the client caused or must wait out, sent as OpenAI's error body with its HTTP status. */
public final class ApiError extends RuntimeException {

    final int status;
    final String type;
    final String param;
    final String code;
    long retryAfterSeconds = 1;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    ApiError retryAfter(long seconds) {
        this.retryAfterSeconds = seconds;
        return this;
    }

    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message);
    }

    static ApiError notFound(String param, String code, String message) {
        return new ApiError(404, "invalid_request_error", param, code, message);
    }

    static ApiError overloaded(String message) {
        return new ApiError(503, "server_error", null, "overloaded", message);
    }

    static ApiError internal(String message) {
        return new ApiError(500, "server_error", null, null, message);
    }

    /** The request body as a JSON object, or the 400 that says why it is not one. */
    static com.fasterxml.jackson.databind.JsonNode jsonObject(RoutingContext ctx) {
        com.fasterxml.jackson.databind.JsonNode b;
        try {
            b = Json.MAPPER.readTree(
                    ctx.body().buffer() == null
                            ? new byte[0]
                            : ctx.body().buffer().getBytes());
        } catch (java.io.IOException e) {
            throw invalid(null, "the request body is not valid JSON");
        }
        if (b == null || !b.isObject()) {
            throw invalid(null, "the request body must be a JSON object");
        }
        return b;
    }

    String body() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode e = root.putObject("error");
        e.put("message", getMessage());
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        return root.toString();
    }

    void send(HttpServerResponse response) {
        if (response.ended() || response.closed()) {
            return;
        }
        if (response.headWritten()) {
            // Mid-stream: the status is gone, so the error travels as a last event.
            response.end("data: " + body() + "\n\n");
            return;
        }
        response.setStatusCode(status).putHeader("content-type", "application/json");
        if (status == 503 || status == 429) {
            response.putHeader("retry-after", Long.toString(retryAfterSeconds));
        }
        response.end(body());
    }

    /** What a failure tells the client: itself if it is one, a 400 for a bad argument, else a 500. */
    static ApiError of(Throwable e) {
        if (e instanceof ApiError a) {
            return a;
        }
        if (e instanceof IllegalArgumentException) {
            return invalid(null, e.getMessage());
        }
        return internal(e.getMessage());
    }

    /** Runs {@code work} on {@code pool} and answers with its JSON and {@code status}, or with its failure. */
    static void respond(Bulkhead pool, RoutingContext ctx, int status, Callable<ObjectNode> work) {
        pool.run(work).onComplete(ar -> {
            if (ar.succeeded()) {
                ctx.response()
                        .setStatusCode(status)
                        .putHeader("content-type", "application/json")
                        .end(ar.result().toString());
            } else {
                of(ar.cause()).send(ctx.response());
            }
        });
    }
}
