package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.engine.OrtRewardEngine;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /v1/rewards}: scores one prompt's completions with the active reward model. Body
 * {@code {"prompt": "...", "completions": ["...", ...]}}; answer {@code {"object": "list", "model":
 * "<version>", "data": [{"index": 0, "reward": 0.3}, ...]}}. Scoring runs on a worker thread.
 */
final class RewardsHandler implements Handler<RoutingContext> {

    static final int MAX_COMPLETIONS = 64;

    private final Bulkhead pool;
    private final ModelRouter router;
    private final Auth auth;

    RewardsHandler(Bulkhead pool, ModelRouter router, Auth auth) {
        this.pool = pool;
        this.router = router;
        this.auth = auth;
    }

    @Override
    public void handle(RoutingContext ctx) {
        String authorization = ctx.request().getHeader("authorization");
        ApiError.respond(pool, ctx, 200, () -> {
            JsonNode b = ApiError.jsonObject(ctx);
            auth.authenticate(authorization, null);
            OrtRewardEngine rm = router.currentReward();
            if (rm == null) {
                throw ApiError.notFound(
                        "model",
                        "model_not_found",
                        "no reward model is active (register one " + "exported with --reward and promote it)");
            }
            if (b.hasNonNull("model") && !b.get("model").asText().equals(rm.version())) {
                throw ApiError.notFound(
                        "model",
                        "model_not_found",
                        "model '" + b.get("model").asText() + "' is not the active reward model '" + rm.version()
                                + "'");
            }
            if (!b.path("prompt").isTextual()) {
                throw ApiError.invalid("prompt", "prompt must be a string");
            }
            JsonNode cs = b.get("completions");
            if (cs == null || !cs.isArray() || cs.isEmpty() || cs.size() > MAX_COMPLETIONS) {
                throw ApiError.invalid(
                        "completions", "completions must be a list of 1 to " + MAX_COMPLETIONS + " strings");
            }
            String prompt = b.get("prompt").asText();
            int window = rm.config().maxPositions();
            List<int[]> sequences = new ArrayList<>();
            for (JsonNode c : cs) {
                if (!c.isTextual()) {
                    throw ApiError.invalid("completions", "completions must be strings");
                }
                int[] ids = rm.tokenizer().encode(prompt + c.asText(), true);
                if (ids.length > window) {
                    throw ApiError.invalid(
                            "completions",
                            "prompt plus completion is " + ids.length + " tokens; the reward model's context window is "
                                    + window);
                }
                sequences.add(ids);
            }
            float[] rewards = rm.score(sequences);
            ObjectNode root = Json.MAPPER.createObjectNode();
            root.put("object", "list");
            root.put("model", rm.version());
            ArrayNode data = root.putArray("data");
            for (int i = 0; i < rewards.length; i++) {
                data.addObject().put("index", i).put("reward", rewards[i]);
            }
            return root;
        });
    }
}
