package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.chat.ChatTemplateException;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.engine.PolicyEngine;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.function.BiFunction;

/**
 * The served tokenizer, in vLLM's shapes, so that evaluation clients count and build token-id prompts
 * with the model's own tokenizer: {@code POST /tokenize} ({@code prompt} with {@code add_special_tokens},
 * or chat {@code messages} rendered by the chat template) gives {@code tokens}, {@code count} and
 * {@code max_model_len}; {@code POST /detokenize} turns {@code tokens} back into {@code prompt}. Work
 * runs on a worker thread: a long text must not hold the event loop.
 */
final class TokenizeHandler {

    private final Bulkhead pool;
    private final ModelRouter router;
    private final Auth auth;

    TokenizeHandler(Bulkhead pool, ModelRouter router, Auth auth) {
        this.pool = pool;
        this.router = router;
        this.auth = auth;
    }

    void mount(Router r) {
        r.post("/tokenize").handler(ctx -> run(ctx, this::tokenize));
        r.post("/detokenize").handler(ctx -> run(ctx, this::detokenize));
    }

    private ObjectNode tokenize(JsonNode b, PolicyEngine engine) {
        int[] ids;
        if (b.has("messages")) {
            ChatCompletionsHandler.Params chat =
                    ChatCompletionsHandler.Params.parse(b, engine.config().maxPositions());
            boolean generationPrompt = GenerationHandler.Fields.bool(b, "add_generation_prompt", true);
            try {
                String text = engine.chatTemplate().render(chat.messages(), generationPrompt);
                ids = engine.tokenizer().encode(text, engine.chatTemplate().isDefault());
            } catch (ChatTemplateException e) {
                throw ApiError.invalid("messages", e.getMessage());
            }
        } else {
            String prompt = GenerationHandler.Fields.optionalText(b, "prompt");
            if (prompt == null) {
                throw ApiError.invalid("prompt", "prompt (a string) or messages is required");
            }
            ids = engine.tokenizer().encode(prompt, GenerationHandler.Fields.bool(b, "add_special_tokens", true));
        }
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("count", ids.length);
        root.put("max_model_len", engine.config().maxPositions());
        ArrayNode tokens = root.putArray("tokens");
        for (int id : ids) {
            tokens.add(id);
        }
        return root;
    }

    private ObjectNode detokenize(JsonNode b, PolicyEngine engine) {
        JsonNode list = b.get("tokens");
        if (list == null || !list.isArray()) {
            throw ApiError.invalid("tokens", "tokens must be a list of token ids");
        }
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode id = list.get(i);
            if (!id.isIntegralNumber()
                    || !id.canConvertToInt()
                    || id.asInt() < 0
                    || id.asInt() >= engine.config().vocabSize()) {
                throw ApiError.invalid(
                        "tokens",
                        "token ids must be integers in [0, " + engine.config().vocabSize() + "), got " + id);
            }
            ids[i] = id.asInt();
        }
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("prompt", engine.tokenizer().decode(ids));
        return root;
    }

    private void run(RoutingContext ctx, BiFunction<JsonNode, PolicyEngine, ObjectNode> work) {
        String authorization = ctx.request().getHeader("authorization");
        ApiError.respond(pool, ctx, 200, () -> {
            JsonNode b = ApiError.jsonObject(ctx);
            auth.authenticate(authorization, null);
            Scheduler s = router.current();
            if (s == null) {
                throw ApiError.overloaded("no model version is active yet");
            }
            String model = GenerationHandler.Fields.optionalText(b, "model");
            String version = s.engine().version();
            if (model != null && !model.equals(version) && !model.equals(GenerationHandler.ALIAS)) {
                throw ApiError.notFound(
                        "model",
                        "model_not_found",
                        "model '" + model + "' is not served; the active version is '" + version + "'");
            }
            return work.apply(b, s.engine());
        });
    }
}
