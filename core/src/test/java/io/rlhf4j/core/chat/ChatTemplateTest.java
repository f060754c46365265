package io.rlhf4j.core.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.rlhf4j.core.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real templates from HF {@code tokenizer_config.json} files (Qwen2's ChatML, Llama 3 Instruct,
 * Mistral Instruct v0.1) render what {@code apply_chat_template} gives; the expected strings in each
 * fixture's {@code expected.json} were derived by hand from the template.
 */
class ChatTemplateTest {

    @ParameterizedTest
    @ValueSource(strings = {"chatml", "llama3", "mistral"})
    void rendersAsHfApplyChatTemplate(String name) throws Exception {
        Path dir = Path.of(getClass().getResource("/chat/" + name).toURI());
        ChatTemplate template = ChatTemplate.load(dir);
        assertThat(template.isDefault()).isFalse();
        JsonNode cases = Json.MAPPER.readTree(dir.resolve("expected.json").toFile());
        assertThat(cases.size()).isPositive();
        for (JsonNode c : cases) {
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) {
                messages.add(new ChatMessage(m.get(0).asText(), m.get(1).asText()));
            }
            boolean addGenerationPrompt = c.get("add_generation_prompt").asBoolean();
            if (c.has("raises")) {
                assertThatThrownBy(() -> template.render(messages, addGenerationPrompt))
                        .isInstanceOf(ChatTemplateException.class)
                        .hasMessage(
                                "the chat template failed: " + c.get("raises").asText());
            } else {
                assertThat(template.render(messages, addGenerationPrompt))
                        .isEqualTo(c.get("expected").asText());
            }
        }
    }

    @Test
    void modelWithoutTemplateGetsTheDefaultWhoseSingleUserTurnIsThePrompt(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(ChatTemplate.TOKENIZER_CONFIG), "{\"eos_token\": \"</s>\"}");
        ChatTemplate template = ChatTemplate.load(dir);
        assertThat(template.isDefault()).isTrue();
        assertThat(template.render(List.of(ChatMessage.user("Name a fruit.")), true))
                .isEqualTo("Name a fruit.");
        assertThat(template.render(
                        List.of(
                                ChatMessage.system("Be kind."),
                                ChatMessage.user("Hi"),
                                ChatMessage.assistant("Hello"),
                                ChatMessage.user("Bye")),
                        true))
                .isEqualTo("Be kind.\n\nHi\n\nHello\n\nBye");
        assertThat(ChatTemplate.load(dir.resolve("missing")).isDefault()).isTrue();
    }

    @Test
    void templateFileWinsOverTokenizerConfigAndNamedListsUseDefault(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(ChatTemplate.TOKENIZER_CONFIG), """
                {"chat_template": [{"name": "tool_use", "template": "tools"},
                                   {"name": "default", "template": "{{ messages[0]['content'] }}!"}]}""");
        assertThat(ChatTemplate.load(dir).render(List.of(ChatMessage.user("x")), false))
                .isEqualTo("x!");
        Files.writeString(dir.resolve(ChatTemplate.TEMPLATE_FILE), "[{{ messages | length }}]");
        assertThat(ChatTemplate.load(dir).render(List.of(ChatMessage.user("x")), false))
                .isEqualTo("[1]");
    }

    @Test
    void anExportKeepsTheDefaultItWasMadeWithAndAModelsOwnStaysItsOwn(@TempDir Path dir) throws Exception {
        Path checkpoint = Files.createDirectories(dir.resolve("checkpoint"));
        Path export = Files.createDirectories(dir.resolve("export"));
        assertThat(ChatTemplate.load(checkpoint).writeInto(export)).isEqualTo(ChatTemplate.DEFAULT);
        Files.writeString(export.resolve("manifest.json"), "{\"chat_template\": \"default\"}");
        ChatTemplate exported = ChatTemplate.load(export);
        assertThat(exported.isDefault()).isTrue();
        assertThat(exported.source()).isEqualTo(ChatTemplate.DEFAULT_SOURCE);

        Path chatml = Path.of(getClass().getResource("/chat/chatml").toURI());
        Path other = Files.createDirectories(dir.resolve("export-chatml"));
        assertThat(ChatTemplate.load(chatml).writeInto(other)).isEqualTo(ChatTemplate.MODEL);
        assertThat(other.resolve(ChatTemplate.TEMPLATE_FILE)).doesNotExist();
    }

    @Test
    void oneTrailingNewlineOfTheTemplateIsDroppedAsJinja2Does() {
        // HF renders with Jinja2's keep_trailing_newline off: a template file's final newline is not output.
        ChatTemplate t = new ChatTemplate("{{ messages[0]['content'] }}\n\n", null, null);
        assertThat(t.render(List.of(ChatMessage.user("x")), true)).isEqualTo("x\n");
    }

    @Test
    void brokenTemplateIsAClearError() {
        ChatTemplate broken = new ChatTemplate("{% for m in messages %}{{ m['content'] }", null, null);
        assertThatThrownBy(() -> broken.render(List.of(ChatMessage.user("x")), true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageStartingWith("the chat template failed");
        assertThatThrownBy(() -> new ChatMessage("tool", "x")).hasMessageContaining("unknown role 'tool'");
    }
}
