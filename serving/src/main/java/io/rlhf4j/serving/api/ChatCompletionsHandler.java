package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.chat.ChatMessage;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.chat.ChatTemplateException;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/chat/completions}, OpenAI's chat API: the conversation is rendered with the served
 * version's chat template into one prompt, and the reply comes back as a {@code chat.completion} or,
 * streamed, as {@code chat.completion.chunk} deltas (the role first, then content, the finish reason
 * last, and the usage when {@code stream_options.include_usage} asks for it).
 */
final class ChatCompletionsHandler extends GenerationHandler<ChatCompletionsHandler.Params> {

    ChatCompletionsHandler(Services services) {
        super(services);
    }

    @Override
    String endpoint() {
        return "chat_completions";
    }

    @Override
    Params parse(JsonNode body, int window) {
        return Params.parse(body, window);
    }

    @Override
    int prompts(Params params) {
        return 1; // one conversation
    }

    @Override
    Fields.Common common(Params params) {
        return params.common();
    }

    @Override
    Exchange.Work work(Scheduler scheduler, Params params) {
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
        int[] ids = checkedPrompt(
                engine.tokenizer().encode(prompt, template.isDefault()),
                engine.config().maxPositions(),
                "messages");
        Fields.Common c = params.common();
        return new Exchange.Work(
                List.of(ids),
                List.of(prompt),
                params.messages(),
                c.sampling(),
                c.n(),
                params.topLogprobs() == null ? -1 : params.topLogprobs(),
                false,
                c.stream(),
                c.includeUsage(),
                c.consent());
    }

    @Override
    Exchange.Format format(Params params) {
        return new ChatFormat(params);
    }

    /** OpenAI's {@code chat.completion} and {@code chat.completion.chunk} objects. */
    private record ChatFormat(Params params) implements Exchange.Format {

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

    /**
     * A validated {@code POST /v1/chat/completions} body (OpenAI's chat fields). {@code topLogprobs} is null
     * when {@code logprobs} is off, else how many alternatives each token reports.
     */
    record Params(Fields.Common common, List<ChatMessage> messages, Integer topLogprobs) {

        static final int MAX_TOP_LOGPROBS = 20;

        static Params parse(JsonNode body, int maxTokensCap) {
            JsonNode b = Fields.object(body);
            List<ChatMessage> messages = messages(b.get("messages"));
            // max_completion_tokens replaced max_tokens in OpenAI's API; either is taken, the new one first.
            String lengthField = b.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
            int maxTokens = Fields.integer(b, lengthField, maxTokensCap, 0, maxTokensCap);
            Integer top = null;
            if (Fields.bool(b, "logprobs", false)) {
                top = Fields.integer(b, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS);
            } else if (b.hasNonNull("top_logprobs")) {
                throw ApiError.invalid("top_logprobs", "top_logprobs needs logprobs: true");
            }
            return new Params(Fields.common(b, maxTokens), messages, top);
        }

        private static List<ChatMessage> messages(JsonNode list) {
            if (list == null || !list.isArray() || list.isEmpty()) {
                throw ApiError.invalid("messages", "messages must be a non-empty list of {role, content} objects");
            }
            List<ChatMessage> out = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                JsonNode m = list.get(i);
                String field = "messages[" + i + "]";
                if (!m.isObject()) {
                    throw ApiError.invalid(field, field + " must be an object with role and content");
                }
                String role = m.path("role").asText("");
                if (role.equals("developer")) {
                    role = "system"; // OpenAI's newer name for the system turn
                }
                if (!ChatMessage.ROLES.contains(role)) {
                    throw ApiError.invalid(
                            field + ".role",
                            "unknown role '" + m.path("role").asText()
                                    + "' (supported: system, developer, user, assistant)");
                }
                out.add(new ChatMessage(role, content(m.get("content"), field + ".content")));
            }
            return out;
        }

        /** A string, or a list of {@code {"type": "text", "text": ...}} parts, joined. */
        private static String content(JsonNode c, String field) {
            if (c == null || c.isNull()) {
                throw ApiError.invalid(field, field + " is required");
            }
            if (c.isTextual()) {
                return c.asText();
            }
            if (!c.isArray()) {
                throw ApiError.invalid(field, field + " must be a string or a list of text parts");
            }
            StringBuilder text = new StringBuilder();
            for (JsonNode part : c) {
                if (!"text".equals(part.path("type").asText())
                        || !part.path("text").isTextual()) {
                    throw ApiError.invalid(
                            field,
                            field + " may only hold text parts ({\"type\": \"text\", "
                                    + "\"text\": ...}); this model takes no "
                                    + part.path("type").asText("untyped") + " input");
                }
                text.append(part.get("text").asText());
            }
            return text.toString();
        }
    }
}
