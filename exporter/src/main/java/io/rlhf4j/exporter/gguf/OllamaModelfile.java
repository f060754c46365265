package io.rlhf4j.exporter.gguf;

import io.rlhf4j.core.chat.ChatMessage;
import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.chat.ChatTemplateException;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An Ollama {@code Modelfile} for a GGUF export: {@code FROM}, the chat template as Ollama's Go
 * {@code TEMPLATE}, and {@code PARAMETER stop} with the end-of-sequence text.
 *
 * <p>Ollama's templates are Go's, not Jinja, so the model's Jinja template is reduced to what it writes
 * before each message (one text for the first message, one for a later one, per role) and after the
 * last user message (the opening of the reply): rendered with marker contents and cut at the markers.
 * The reduction is kept only if it reproduces the Jinja rendering of several conversations exactly;
 * otherwise the Modelfile has no TEMPLATE and says why (Ollama then reads the template in the GGUF).
 */
final class OllamaModelfile {

    private static final String[] ROLES = {"system", "user", "assistant"};

    /** Texts before a message by role, for the first message and for later ones, and the reply's opening. */
    record Reduced(Map<String, String> first, Map<String, String> later, String generation) {

        String render(List<ChatMessage> messages) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                b.append((i == 0 ? first : later).getOrDefault(m.role(), "")).append(m.content());
            }
            return b.append(generation).toString();
        }

        String goTemplate() {
            StringBuilder t = new StringBuilder("{{ range $i, $m := .Messages }}");
            for (String role : ROLES) {
                t.append("{{ if eq $m.Role \"").append(role).append("\" }}");
                t.append("{{ if eq $i 0 }}").append(go(first.getOrDefault(role, "")));
                t.append("{{ else }}").append(go(later.getOrDefault(role, ""))).append("{{ end }}");
                t.append("{{ end }}");
            }
            t.append("{{ $m.Content }}");
            t.append("{{ if and (eq (len (slice $.Messages $i)) 1) (eq $m.Role \"user\") }}")
                    .append(go(generation))
                    .append("{{ end }}");
            return t.append("{{ end }}").toString();
        }

        private static String go(String literal) {
            return literal.replace("{{", "{{ \"{{\" }}");
        }
    }

    private OllamaModelfile() {}

    static void write(Path dir, String ggufFile, ChatTemplate template, Path model) throws IOException {
        Tokenizer tokenizer = Checkpoint.readTokenizer(model);
        String bos = tokenizer.tokenText(tokenizer.bosId());
        String eos = tokenizer.tokenText(tokenizer.eosId());
        StringBuilder m = new StringBuilder();
        m.append("# Written by rlhf4j export --format gguf. Run: ollama create NAME -f Modelfile\n");
        m.append("FROM ./").append(ggufFile).append('\n');
        Optional<Reduced> reduced = reduce(template, bos);
        if (reduced.isPresent()) {
            m.append("TEMPLATE \"\"\"").append(reduced.get().goTemplate()).append("\"\"\"\n");
        } else {
            m.append("# No TEMPLATE: this chat template does not reduce to texts around each message, so Ollama\n")
                    .append("# uses the template stored in the GGUF (tokenizer.chat_template).\n");
        }
        m.append("PARAMETER stop \"")
                .append(eos.replace("\\", "\\\\").replace("\"", "\\\""))
                .append("\"\n");
        Files.writeString(dir.resolve("Modelfile"), m.toString());
    }

    /** The template's reduction to texts around messages, if it reproduces the template exactly. */
    static Optional<Reduced> reduce(ChatTemplate template, String bos) {
        try {
            String s = "\u0001S\u0001";
            String u = "\u0001U\u0001";
            String a = "\u0001A\u0001";
            String u2 = "\u0001V\u0001";
            Map<String, String> first = new LinkedHashMap<>();
            Map<String, String> later = new LinkedHashMap<>();
            String full = template.render(
                    List.of(ChatMessage.system(s), ChatMessage.user(u), ChatMessage.assistant(a), ChatMessage.user(u2)),
                    true);
            first.put("system", stripBos(before(full, s, 0), bos));
            later.put("user", between(full, s, u));
            later.put("assistant", between(full, u, a));
            if (!between(full, a, u2).equals(later.get("user"))) {
                return Optional.empty();
            }
            String generation = full.substring(full.indexOf(u2) + u2.length());
            String noSystem = template.render(List.of(ChatMessage.user(u)), true);
            first.put("user", stripBos(before(noSystem, u, 0), bos));
            Reduced r = new Reduced(first, later, generation);
            List<List<ChatMessage>> checks = List.of(
                    List.of(ChatMessage.user("Hi there")),
                    List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi")),
                    List.of(ChatMessage.user("a"), ChatMessage.assistant("b"), ChatMessage.user("c")),
                    List.of(
                            ChatMessage.system("s"),
                            ChatMessage.user("a"),
                            ChatMessage.assistant("b"),
                            ChatMessage.user("c")));
            for (List<ChatMessage> c : checks) {
                if (!stripBos(template.render(c, true), bos).equals(r.render(c))) {
                    return Optional.empty();
                }
            }
            return Optional.of(r);
        } catch (ChatTemplateException | IllegalArgumentException e) {
            return Optional.empty(); // a template that refuses these conversations cannot be reduced
        }
    }

    private static String before(String text, String marker, int from) {
        int at = text.indexOf(marker, from);
        if (at < 0) {
            throw new IllegalArgumentException("marker not rendered");
        }
        return text.substring(from, at);
    }

    private static String between(String text, String left, String right) {
        int from = text.indexOf(left);
        if (from < 0) {
            throw new IllegalArgumentException("marker not rendered");
        }
        return before(text, right, from + left.length());
    }

    /** llama.cpp and Ollama add BOS as a token; the template's own BOS text would double it. */
    private static String stripBos(String text, String bos) {
        return bos != null && !bos.isEmpty() && text.startsWith(bos) ? text.substring(bos.length()) : text;
    }
}
