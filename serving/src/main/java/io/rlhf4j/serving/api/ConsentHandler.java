package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.Store;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;

/**
 * {@code PUT /v1/consent}: the calling user opts out of training, or back in; it applies to their
 * prompts already stored and to those that follow. Store work runs on a worker.
 */
final class ConsentHandler {

    private final Bulkhead pool;
    private final Store store;
    private final Auth auth;
    private final Clock clock;

    ConsentHandler(Bulkhead pool, Store store, Auth auth, Clock clock) {
        this.pool = pool;
        this.store = store;
        this.auth = auth;
        this.clock = clock;
    }

    void mount(Router r) {
        r.put("/v1/consent").handler(ctx -> ApiError.respond(pool, ctx, 200, () -> consent(ctx)));
    }

    private ObjectNode consent(RoutingContext ctx) {
        JsonNode b = ApiError.jsonObject(ctx);
        if (!b.path("training_consent").isBoolean()) {
            throw ApiError.invalid("training_consent", "send {\"training_consent\": true|false}");
        }
        Auth.Principal who = auth.authenticate(
                ctx.request().getHeader("authorization"), GenerationHandler.Fields.optionalText(b, "user"));
        boolean consent = b.get("training_consent").asBoolean();
        int updated = store.consent().set(who.userId(), consent, clock.millis());
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("user", who.userId());
        o.put("training_consent", consent);
        o.put("prompts_updated", updated);
        return o;
    }
}
