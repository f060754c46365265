package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.chat.ChatTemplateException;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.core.store.LogWriter;
import io.rlhf4j.serving.engine.ModelRouter;
import io.rlhf4j.serving.metrics.ServingMetrics;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/chat/completions}, OpenAI's chat API: the conversation is rendered with the served
 * version's chat template into one prompt, and the reply comes back as a {@code chat.completion} or,
 * streamed, as {@code chat.completion.chunk} deltas (the role first, then content, the finish reason
 * last, and the usage when {@code stream_options.include_usage} asks for it).
 */
final class ChatCompletionsHandler extends GenerationHandler<ChatParams> {

    ChatCompletionsHandler(Vertx vertx, ModelRouter router, LogWriter logs, ServingMetrics metrics, Auth auth,
            Clock clock) {
        super(vertx, router, logs, metrics, auth, clock);
    }

    @Override
    String endpoint() {
        return "chat_completions";
    }

    @Override
    ChatParams parse(JsonNode body, int window) {
        return ChatParams.parse(body, window);
    }

    @Override
    RequestFields.Common common(ChatParams params) {
        return params.common();
    }

    @Override
    Exchange.Work work(Scheduler scheduler, ChatParams params) {
        var engine = scheduler.engine();
        ChatTemplate template = engine.chatTemplate();
        String prompt;
        try {
            prompt = template.render(params.messages(), true);
        } catch (ChatTemplateException e) {
            throw ApiError.invalid("messages", e.getMessage());
        }
        // A real template writes its own special tokens; the default one is plain text, read as a
        // completions prompt is (with BOS).
        int[] ids = checkedPrompt(engine.tokenizer().encode(prompt, template.isDefault()),
                engine.config().maxPositions(), "messages");
        RequestFields.Common c = params.common();
        return new Exchange.Work(List.of(ids), List.of(prompt), params.messages(), c.sampling(), c.n(),
                params.topLogprobs() == null ? -1 : params.topLogprobs(), false, c.stream(), c.includeUsage(),
                c.consent());
    }

    @Override
    Exchange.Format format(ChatParams params) {
        return new ChatFormat(params);
    }

    /** OpenAI's {@code chat.completion} and {@code chat.completion.chunk} objects. */
    private record ChatFormat(ChatParams params) implements Exchange.Format {

        @Override
        public String idPrefix() {
            return "chatcmpl-";
        }

        @Override
        public void opened(Exchange x) {
            for (int i = 0; i < x.choices.length; i++) {
                ObjectNode root = head(x, "chat.completion.chunk");
                ObjectNode choice = choice(root.putArray("choices"), i);
                choice.putObject("delta").put("role", "assistant").put("content", "");
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                x.send(root);
            }
        }

        @Override
        public void token(Exchange x, int index, Sink.Token t) {
            if (t.delta().isEmpty() && (params.topLogprobs() == null || t.id() < 0)) {
                return;
            }
            ObjectNode root = head(x, "chat.completion.chunk");
            ObjectNode choice = choice(root.putArray("choices"), index);
            choice.putObject("delta").put("content", t.delta());
            if (params.topLogprobs() == null || t.id() < 0) {
                choice.putNull("logprobs");
            } else {
                entry(choice.putObject("logprobs").putArray("content"), t.text(), t.logprob(), t.top());
            }
            choice.putNull("finish_reason");
            x.send(root);
        }

        @Override
        public void finished(Exchange x, int index) {
            ObjectNode root = head(x, "chat.completion.chunk");
            ObjectNode choice = choice(root.putArray("choices"), index);
            choice.putObject("delta");
            choice.putNull("logprobs");
            choice.put("finish_reason", x.choices[index].finish.openAiName());
            x.send(root);
        }

        @Override
        public void closing(Exchange x) {
            if (x.work.includeUsage()) {
                ObjectNode root = head(x, "chat.completion.chunk");
                root.putArray("choices");
                root.set("usage", x.usage());
                x.send(root);
            }
        }

        @Override
        public ObjectNode body(Exchange x) {
            ObjectNode root = head(x, "chat.completion");
            ArrayNode list = root.putArray("choices");
            for (int i = 0; i < x.choices.length; i++) {
                Exchange.Choice c = x.choices[i];
                ObjectNode o = choice(list, i);
                ObjectNode message = o.putObject("message");
                message.put("role", "assistant").put("content", c.text.toString());
                if (params.topLogprobs() == null) {
                    o.putNull("logprobs");
                } else {
                    ArrayNode content = o.putObject("logprobs").putArray("content");
                    for (int t = 0; t < c.tokens.size(); t++) {
                        entry(content, c.tokens.get(t), c.logprobs.get(t), c.top.get(t));
                    }
                }
                o.put("finish_reason", c.finish.openAiName());
            }
            root.set("usage", x.usage());
            return root;
        }

        private static ObjectNode head(Exchange x, String object) {
            ObjectNode root = Json.MAPPER.createObjectNode();
            root.put("id", x.id).put("object", object).put("created", x.created).put("model", x.version);
            return root;
        }

        private static ObjectNode choice(ArrayNode choices, int index) {
            return choices.addObject().put("index", index);
        }

        /** One token in the chat log-probs shape: text, log-prob, UTF-8 bytes and the alternatives. */
        private void entry(ArrayNode content, String token, float logprob, Map<String, Float> top) {
            ObjectNode e = token(content.addObject(), token, logprob);
            ArrayNode alternatives = e.putArray("top_logprobs");
            if (top != null && params.topLogprobs() != null && params.topLogprobs() > 0) {
                top.forEach((text, lp) -> token(alternatives.addObject(), text, lp));
            }
        }

        private static ObjectNode token(ObjectNode o, String token, float logprob) {
            o.put("token", token).put("logprob", logprob);
            ArrayNode bytes = o.putArray("bytes");
            for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
                bytes.add(b & 0xff);
            }
            return o;
        }
    }
}
