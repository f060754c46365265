package io.rlhf4j.core.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.rlhf4j.core.checkpoint.Layout;
import io.rlhf4j.core.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template: the Jinja program in its {@code tokenizer_config.json} (or
 * {@code chat_template.jinja}) that turns a conversation into the prompt text the model was tuned on,
 * rendered as HF's {@code apply_chat_template} renders it: {@code trim_blocks} and {@code lstrip_blocks}
 * on, {@code messages}, {@code add_generation_prompt}, {@code bos_token} and {@code eos_token} bound, and
 * {@code raise_exception} refusing a conversation. The text is tokenized without adding BOS: the
 * template writes the special tokens it wants.
 */
public final class ChatTemplate {

    /** The file HF transformers writes a template to since 4.43, beside {@code tokenizer_config.json}. */
    public static final String TEMPLATE_FILE = "chat_template.jinja";

    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    /**
     * For a model that was never tuned on a chat format (the demo model, a base checkpoint): the turns'
     * texts one after another, a blank line apart, so a single user message is exactly its text and
     * the model answers it as it would answer that prompt on {@code /v1/completions}.
     */
    public static final String DEFAULT_SOURCE = """
            {%- for message in messages -%}
            {%- if not loop.first %}{{ '\\n\\n' }}{% endif -%}
            {{- message['content'] -}}
            {%- endfor -%}
            """.strip();

    private static final Jinjava JINJA = engine();

    /** What an export's manifest says of its {@code chat_template}: the model's own, or the default. */
    public static final String MODEL = "model";

    public static final String DEFAULT = "default";

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final boolean isDefault;

    /** A model's own template. */
    public ChatTemplate(String source, String bosToken, String eosToken) {
        this(source, bosToken, eosToken, false);
    }

    private ChatTemplate(String source, String bosToken, String eosToken, boolean isDefault) {
        // Jinja2, as HF runs it (keep_trailing_newline off), drops one newline at the end of a template.
        this.source = source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.isDefault = isDefault;
    }

    /** The project's default template, for a model that has none. */
    public static ChatTemplate defaultTemplate(String bosToken, String eosToken) {
        return new ChatTemplate(DEFAULT_SOURCE, bosToken, eosToken, true);
    }

    /**
     * The template of a checkpoint or export directory: {@code chat_template.jinja} when present, else
     * {@code chat_template} of {@code tokenizer_config.json} (a string, or HF's list of named templates,
     * of which {@code default} is used), else the project's default. An export of a model without a
     * template holds the default it was exported with ({@link #writeInto}), so a later default does not
     * change how a served version reads conversations.
     */
    public static ChatTemplate load(Path dir) throws IOException {
        JsonNode config = Json.MAPPER.createObjectNode();
        Path configFile = dir.resolve(TOKENIZER_CONFIG);
        if (Files.isRegularFile(configFile)) {
            config = Json.MAPPER.readTree(configFile.toFile());
        }
        String bos = tokenText(config.get("bos_token"));
        String eos = tokenText(config.get("eos_token"));
        Path file = dir.resolve(TEMPLATE_FILE);
        if (Files.isRegularFile(file)) {
            return new ChatTemplate(Files.readString(file, StandardCharsets.UTF_8), bos, eos, exportedDefault(dir));
        }
        JsonNode t = config.get("chat_template");
        if (t == null || t.isNull()) {
            return defaultTemplate(bos, eos);
        }
        if (t.isTextual()) {
            return new ChatTemplate(t.asText(), bos, eos);
        }
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) {
                    return new ChatTemplate(named.path("template").asText(), bos, eos);
                }
            }
        }
        throw new ChatTemplateException(configFile + ": chat_template must be a string or a list of named "
                + "templates with one named 'default'");
    }

    private static boolean exportedDefault(Path dir) throws IOException {
        Path manifest = dir.resolve(Layout.EXPORT_MANIFEST);
        return Files.isRegularFile(manifest)
                && DEFAULT.equals(Json.MAPPER
                        .readTree(manifest.toFile())
                        .path("chat_template")
                        .asText());
    }

    /**
     * Writes the default template into an export directory being made (a model's own travels in its
     * tokenizer files); returns what the export's manifest records: {@link #DEFAULT} or {@link #MODEL}.
     */
    public String writeInto(Path exportDir) throws IOException {
        if (isDefault) {
            Files.writeString(exportDir.resolve(TEMPLATE_FILE), source, StandardCharsets.UTF_8);
            return DEFAULT;
        }
        return MODEL;
    }

    /** Special tokens appear as a string or as an AddedToken object with {@code content}. */
    private static String tokenText(JsonNode token) {
        if (token == null || token.isNull()) {
            return null;
        }
        return token.isTextual() ? token.asText() : token.path("content").asText(null);
    }

    public String source() {
        return source;
    }

    /**
     * The project's default: plain text that is read as a completions prompt is (with BOS), where a
     * model's own template writes its special tokens itself.
     */
    public boolean isDefault() {
        return isDefault;
    }

    /**
     * The prompt text for {@code messages}; with {@code addGenerationPrompt} the template's opening of
     * an assistant turn follows, so the model's continuation is the reply.
     *
     * @throws ChatTemplateException when the template refuses the conversation or does not render
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> turns = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> turn = new LinkedHashMap<>();
            turn.put("role", m.role());
            turn.put("content", m.content());
            turns.add(turn);
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", turns);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        RenderResult result = JINJA.renderForResult(source, bindings);
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("the chat template failed: " + refusal(e));
            }
        }
        return result.getOutput();
    }

    /** The message a template's {@code raise_exception} gave, without the engine's wrapping. */
    private static String refusal(TemplateError e) {
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t instanceof Refusal r) {
                return r.getMessage();
            }
        }
        return e.getMessage();
    }

    /** {@code raise_exception(message)}, as HF binds it for templates. */
    public static String raiseException(String message) {
        throw new Refusal(message);
    }

    private static final class Refusal extends RuntimeException {
        Refusal(String message) {
            super(message);
        }
    }

    private static Jinjava engine() {
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .build());
        jinjava.getGlobalContext()
                .registerFunction(new ELFunctionDefinition(
                        "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return jinjava;
    }
}
