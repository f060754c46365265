package io.rlhf4j.serving.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.io.Json;
import io.rlhf4j.serving.scheduler.Scheduler;
import io.rlhf4j.serving.scheduler.Sink;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code POST /v1/completions}, OpenAI's legacy completions, streamed as server-sent events or answered
 * as one {@code text_completion} object.
 */
final class CompletionsHandler extends GenerationHandler<CompletionsHandler.Params> {

    CompletionsHandler(Services services) {
        super(services);
    }

    @Override
    String endpoint() {
        return "completions";
    }

    @Override
    Params parse(JsonNode body, int window) {
        return Params.parse(body, window);
    }

    @Override
    Fields.Common common(Params params) {
        return params.common();
    }

    @Override
    int prompts(Params params) {
        return params.prompts().size();
    }

    @Override
    Exchange.Work work(Scheduler scheduler, Params params) {
        var engine = scheduler.engine();
        int window = engine.config().maxPositions();
        int vocab = engine.config().vocabSize();
        if (params.prompts().size() > scheduler.queuePerCaller()) {
            // More than one caller may ever have waiting: it could never be admitted, so it is not a 503.
            throw ApiError.invalid(
                    "prompt",
                    params.prompts().size() + " prompts exceed the " + scheduler.queuePerCaller()
                            + " one caller may have queued on this server; send them in smaller batches");
        }
        List<int[]> ids = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (Params.Prompt p : params.prompts()) {
            if (p.ids() == null) {
                ids.add(checkedPrompt(engine.tokenizer().encode(p.text(), true), window, "prompt"));
                texts.add(p.text());
                continue;
            }
            for (int id : p.ids()) {
                if (id >= vocab) {
                    throw ApiError.invalid(
                            "prompt", "token id " + id + " is outside this model's vocabulary of " + vocab);
                }
            }
            ids.add(checkedPrompt(p.ids(), window, "prompt"));
            texts.add(engine.tokenizer().decode(p.ids()));
        }
        Fields.Common c = params.common();
        return new Exchange.Work(
                ids,
                texts,
                List.of(),
                c.sampling(),
                c.n(),
                params.logprobs() == null ? -1 : params.logprobs(),
                params.echo() && params.logprobs() != null,
                c.stream(),
                c.includeUsage(),
                c.consent());
    }

    @Override
    Exchange.Format format(Params params) {
        return new TextFormat(params);
    }

    /** OpenAI's {@code text_completion} objects. */
    private record TextFormat(Params params) implements Exchange.Format {

        @Override
        public String idPrefix() {
            return "cmpl-";
        }

        @Override
        public void opened(Exchange x) {
            if (params.echo() && !x.work.promptLogprobs()) {
                for (int p = 0; p < x.work.prompts().size(); p++) {
                    for (int c = 0; c < x.work.n(); c++) {
                        x.send(chunk(
                                x, p * x.work.n() + c, x.work.loggedPrompts().get(p), null, null));
                    }
                }
            }
        }

        /** The echo of a prompt whose tokens are to be scored waits for the scores, and carries them. */
        @Override
        public void prompted(Exchange x, int p) {
            Exchange.Choice scored = new Exchange.Choice();
            promptInto(scored, x.promptTokens.get(p));
            for (int c = 0; c < x.work.n(); c++) {
                x.send(chunk(
                        x,
                        p * x.work.n() + c,
                        x.work.loggedPrompts().get(p),
                        logprobs(scored.tokens, scored.logprobs, scored.top, scored.offsets),
                        null));
            }
        }

        @Override
        public void token(Exchange x, int index, Sink.Token t) {
            if (t.delta().isEmpty() && params.logprobs() == null) {
                return;
            }
            JsonNode lp = params.logprobs() == null || t.id() < 0
                    ? null
                    : logprobs(
                            List.of(t.text()),
                            List.of(t.logprob()),
                            List.of(t.top() == null ? Map.of() : t.top()),
                            List.of(echoed(x, index)
                                    + x.choices[index].text.length()
                                    - t.delta().length()));
            x.send(chunk(x, index, t.delta(), lp, null));
        }

        /** How much text an echo put before choice {@code index}'s own: offsets count from the echo's start. */
        private int echoed(Exchange x, int index) {
            return params.echo()
                    ? x.work.loggedPrompts().get(index / x.work.n()).length()
                    : 0;
        }

        @Override
        public void finished(Exchange x, int index) {
            x.send(chunk(x, index, "", null, x.choices[index].finish.openAiName()));
        }

        @Override
        public void closing(Exchange x) {
            if (x.work.includeUsage()) {
                ObjectNode root = head(x);
                root.putArray("choices");
                root.set("usage", x.usage());
                x.send(root);
            }
        }

        @Override
        public ObjectNode body(Exchange x) {
            ObjectNode root = head(x);
            ArrayNode list = root.putArray("choices");
            for (int i = 0; i < x.choices.length; i++) {
                Exchange.Choice c = x.choices[i];
                ObjectNode o = list.addObject();
                String prefix = params.echo() ? x.work.loggedPrompts().get(i / x.work.n()) : "";
                o.put("text", prefix + c.text);
                o.put("index", i);
                if (params.logprobs() == null) {
                    o.putNull("logprobs");
                } else if (x.work.promptLogprobs()) {
                    // Echo: the prompt's tokens first, then the completion's, offsets into the whole text.
                    Exchange.Choice all = new Exchange.Choice();
                    promptInto(all, x.promptTokens.get(i / x.work.n()));
                    all.tokens.addAll(c.tokens);
                    all.logprobs.addAll(c.logprobs);
                    all.top.addAll(c.top);
                    c.offsets.forEach(off -> all.offsets.add(prefix.length() + off));
                    o.set("logprobs", logprobs(all.tokens, all.logprobs, all.top, all.offsets));
                } else {
                    o.set("logprobs", logprobs(c.tokens, c.logprobs, c.top, c.offsets));
                }
                o.put("finish_reason", c.finish.openAiName());
            }
            root.set("usage", x.usage());
            return root;
        }

        /** A prompt's scored tokens as a choice's lists; the first has no log-prob (null, as OpenAI). */
        private static void promptInto(Exchange.Choice into, List<Sink.Token> tokens) {
            int offset = 0;
            for (Sink.Token t : tokens) {
                into.tokens.add(t.text());
                into.logprobs.add(Float.isNaN(t.logprob()) ? null : t.logprob());
                into.top.add(t.top());
                into.offsets.add(offset);
                offset += t.delta().length();
            }
        }

        private static ObjectNode head(Exchange x) {
            ObjectNode root = Json.MAPPER.createObjectNode();
            root.put("id", x.id)
                    .put("object", "text_completion")
                    .put("created", x.created)
                    .put("model", x.version);
            return root;
        }

        private static ObjectNode chunk(Exchange x, int index, String text, JsonNode logprobs, String finish) {
            ObjectNode root = head(x);
            ObjectNode o = root.putArray("choices").addObject();
            o.put("text", text);
            o.put("index", index);
            o.set("logprobs", logprobs);
            if (finish == null) {
                o.putNull("finish_reason");
            } else {
                o.put("finish_reason", finish);
            }
            return root;
        }

        private JsonNode logprobs(
                List<String> tokens, List<Float> lps, List<Map<String, Float>> top, List<Integer> offsets) {
            ObjectNode l = Json.MAPPER.createObjectNode();
            ArrayNode t = l.putArray("tokens");
            tokens.forEach(t::add);
            ArrayNode lp = l.putArray("token_logprobs");
            lps.forEach(lp::add);
            if (params.logprobs() != null && params.logprobs() > 0) {
                ArrayNode tl = l.putArray("top_logprobs");
                for (int i = 0; i < top.size(); i++) {
                    Map<String, Float> m = top.get(i);
                    if (m == null && lps.get(i) == null) {
                        tl.addNull(); // the prompt's first token: nothing predicted it
                        continue;
                    }
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

    /**
     * A validated {@code POST /v1/completions} body (OpenAI's legacy completions fields, plus {@code top_k}
     * as vLLM has it). Every field is checked with a message naming it.
     */
    record Params(Fields.Common common, List<Prompt> prompts, Integer logprobs, boolean echo) {

        /** A prompt as text (tokenized with BOS) or as token ids (taken as they are, as evaluation clients send). */
        record Prompt(String text, int[] ids) {}

        static Params parse(JsonNode body, int maxTokensCap) {
            JsonNode b = Fields.object(body);
            int maxTokens = Fields.integer(b, "max_tokens", 16, 0, maxTokensCap);
            Integer logprobs = b.hasNonNull("logprobs") ? Fields.integer(b, "logprobs", 0, 0, 5) : null;
            boolean echo = Fields.bool(b, "echo", false);
            Fields.Common common = Fields.common(b, maxTokens);
            List<Prompt> prompts = prompts(b.get("prompt"));
            return new Params(common, prompts, logprobs, echo);
        }

        /** A string, a list of strings, a list of token ids, or a list of such lists. */
        private static List<Prompt> prompts(JsonNode p) {
            List<Prompt> prompts = new ArrayList<>();
            if (p == null || p.isNull()) {
                prompts.add(new Prompt("", null));
            } else if (p.isTextual()) {
                prompts.add(new Prompt(p.asText(), null));
            } else if (p.isArray() && p.size() > 0 && p.get(0).isNumber()) {
                prompts.add(new Prompt(null, ids(p)));
            } else if (p.isArray() && p.size() > 0) {
                for (JsonNode e : p) {
                    if (e.isTextual()) {
                        prompts.add(new Prompt(e.asText(), null));
                    } else if (e.isArray() && e.size() > 0) {
                        prompts.add(new Prompt(null, ids(e)));
                    } else {
                        throw ApiError.invalid(
                                "prompt",
                                "prompt must be a string, a list of strings, a list of token "
                                        + "ids or a list of non-empty lists of token ids");
                    }
                }
            } else {
                throw ApiError.invalid("prompt", "prompt must be a string or a non-empty list of strings or token ids");
            }
            return prompts;
        }

        private static int[] ids(JsonNode list) {
            int[] ids = new int[list.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode id = list.get(i);
                if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
                    throw ApiError.invalid("prompt", "token ids must be non-negative integers, got " + id);
                }
                ids[i] = id.asInt();
            }
            return ids;
        }
    }
}
