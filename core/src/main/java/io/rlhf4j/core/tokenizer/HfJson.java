package io.rlhf4j.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The pieces of HF's tokenizer file formats that more than one tokenizer here writes. */
final class HfJson {

    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
    /** Where HF transformers (4.43 on) keeps a chat template, beside tokenizer_config.json. */
    static final String CHAT_TEMPLATE = "chat_template.jinja";

    static final ObjectMapper MAPPER = new ObjectMapper();

    private HfJson() {}

    static void write(Path file, JsonNode json) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        // Pretty like HF's own files; Jackson's output is deterministic, so equal tokenizers give
        // byte-identical files.
        Files.write(file, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
    }

    static ObjectNode addedToken(int id, String content) {
        ObjectNode t = MAPPER.createObjectNode();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }

    /**
     * The {@code tokenizer_config.json} that lets HF transformers' AutoTokenizer use tokenizer.json
     * as is: without it, a class picked from the model type (GPT2TokenizerFast, ...) would assume
     * its own special tokens and clean-up of spaces. Null tokens are left out.
     */
    static ObjectNode config(String bos, String eos, String unk, String pad) {
        ObjectNode c = MAPPER.createObjectNode();
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        putIfNotNull(c, "bos_token", bos);
        putIfNotNull(c, "eos_token", eos);
        putIfNotNull(c, "unk_token", unk);
        putIfNotNull(c, "pad_token", pad);
        c.put("clean_up_tokenization_spaces", false);
        return c;
    }

    private static void putIfNotNull(ObjectNode node, String key, String value) {
        if (value != null) {
            node.put(key, value);
        }
    }
}
