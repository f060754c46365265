package io.rlhf4j.core.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An HF {@code tokenizer.json}, run by the Rust {@code tokenizers} library through DJL.
 *
 * <p>DJL is told not to add special tokens, truncate or pad: BOS is this class's business (on
 * request), lengths are the caller's. DJL exposes no vocabulary, so the vocabulary and special
 * tokens are read from the JSON here.
 *
 * <p>BOS/EOS come from a {@code tokenizer_config.json} beside the file when it names them (a name
 * given as null there means "none"), otherwise from the special added tokens by the usual names
 * ({@code <s>}/{@code </s>}, {@code <|bos|>}/{@code <|eos|>}, {@code <|begin_of_text|>}/{@code
 * <|end_of_text|>}, GPT-2's {@code <|endoftext|>} for both).
 *
 * <p>Like HF, the text of a special added token inside the input (say a user typing {@code </s>})
 * is encoded as that special token.
 */
public final class HfTokenizer implements Tokenizer {

    static {
        // Unless told otherwise, DJL's first tokenizer load each day probes EC2 instance metadata
        // and reports to DJL's telemetry endpoint; this project makes no network calls at run time.
        // An explicit setting, by property or environment, is left alone.
        if (System.getProperty("OPT_OUT_TRACKING") == null && System.getenv("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
    }

    private static final List<String> BOS_NAMES =
            List.of("<s>", "<|bos|>", "<|begin_of_text|>", "<|startoftext|>", "<|endoftext|>");
    private static final List<String> EOS_NAMES = List.of("</s>", "<|eos|>", "<|end_of_text|>", "<|endoftext|>");

    // The Rust tokenizer is immutable once built and encodes from many threads at once; DJL frees
    // it from a finalizer, so it lives exactly as long as this object.
    private final HuggingFaceTokenizer hf;
    private final byte[] json;
    private final byte[] config; // null when there was no tokenizer_config.json
    private final byte[] chatTemplate; // chat_template.jinja, null when there was none
    private final String[] tokens;
    private final int bosId;
    private final int eosId;

    private HfTokenizer(
            HuggingFaceTokenizer hf,
            byte[] json,
            byte[] config,
            byte[] chatTemplate,
            String[] tokens,
            int bosId,
            int eosId) {
        this.hf = hf;
        this.json = json;
        this.config = config;
        this.chatTemplate = chatTemplate;
        this.tokens = tokens;
        this.bosId = bosId;
        this.eosId = eosId;
    }

    /**
     * Loads {@code tokenizer.json} (or the one inside a directory). Exceptions name the file: an
     * {@link IOException} for unreadable or invalid JSON and for JSON the tokenizers library rejects.
     */
    public static HfTokenizer load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve(HfJson.TOKENIZER_JSON) : path;
        byte[] json = Files.readAllBytes(file);
        JsonNode root = parse(file, json);
        Path configFile = file.resolveSibling(HfJson.TOKENIZER_CONFIG_JSON);
        byte[] config = Files.isRegularFile(configFile) ? Files.readAllBytes(configFile) : null;
        JsonNode configRoot = config == null ? null : parse(configFile, config);
        // The chat template travels with the tokenizer files, so a trained checkpoint keeps its model's.
        Path templateFile = file.resolveSibling(HfJson.CHAT_TEMPLATE);
        byte[] chatTemplate = Files.isRegularFile(templateFile) ? Files.readAllBytes(templateFile) : null;

        String[] tokens = vocabulary(file, root);
        Map<String, Integer> specials = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            if (t.path("special").asBoolean(false)) {
                specials.put(t.path("content").asText(), t.path("id").asInt());
            }
        }
        Map<String, Integer> ids = new HashMap<>(specials);
        for (int id = tokens.length - 1; id >= 0; id--) {
            if (tokens[id] != null && !specials.containsKey(tokens[id])) {
                ids.put(tokens[id], id);
            }
        }
        int bos = specialId(configRoot, "bos_token", ids, specials, BOS_NAMES);
        int eos = specialId(configRoot, "eos_token", ids, specials, EOS_NAMES);

        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    .optAddSpecialTokens(false)
                    .optTruncation(false)
                    .optPadding(false)
                    .build();
        } catch (RuntimeException e) {
            // The Rust side reports a malformed tokenizer (unknown model type, merge of an unknown
            // token, ...) as an unchecked exception without the file name.
            throw new IOException("invalid tokenizer " + file + ": " + e.getMessage(), e);
        }
        return new HfTokenizer(hf, json, config, chatTemplate, tokens, bos, eos);
    }

    private static JsonNode parse(Path file, byte[] bytes) throws IOException {
        try {
            JsonNode root = HfJson.MAPPER.readTree(bytes);
            if (root == null || !root.isObject()) {
                throw new IOException("invalid " + file + ": not a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new IOException("invalid JSON in " + file + ": " + e.getOriginalMessage(), e);
        }
    }

    /** Id to token text, from the model's vocabulary and the added tokens; gaps stay null. */
    private static String[] vocabulary(Path file, JsonNode root) throws IOException {
        Map<Integer, String> byId = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) { // BPE, WordPiece, WordLevel: {token: id}
            vocab.fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        } else if (vocab.isArray()) { // Unigram: [[token, score], ...], id = index
            for (int i = 0; i < vocab.size(); i++) {
                byId.put(i, vocab.get(i).path(0).asText());
            }
        } else {
            throw new IOException("invalid tokenizer " + file + ": no model.vocab");
        }
        for (JsonNode t : root.path("added_tokens")) {
            byId.put(t.path("id").asInt(), t.path("content").asText());
        }
        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        String[] tokens = new String[size];
        byId.forEach((id, text) -> {
            if (id >= 0) {
                tokens[id] = text;
            }
        });
        return tokens;
    }

    private static int specialId(
            JsonNode config,
            String key,
            Map<String, Integer> ids,
            Map<String, Integer> specials,
            List<String> conventionalNames) {
        if (config != null && config.has(key)) {
            JsonNode v = config.get(key);
            String name = v.isObject() ? v.path("content").asText(null) : v.isTextual() ? v.asText() : null;
            return name == null ? -1 : ids.getOrDefault(name, -1);
        }
        for (String name : conventionalNames) {
            Integer id = specials.get(name);
            if (id != null) {
                return id;
            }
        }
        return -1;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        long[] ids = hf.encode(text, false, false).getIds();
        int off = addBos && bosId >= 0 ? 1 : 0;
        int[] out = new int[ids.length + off];
        if (off == 1) {
            out[0] = bosId;
        }
        for (int i = 0; i < ids.length; i++) {
            out[i + off] = (int) ids[i];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        // Ids past the tokenizer (a model's padded embedding rows, which sampling can pick) decode to
        // nothing, as HF skips ids it does not know.
        long[] l = java.util.Arrays.stream(ids)
                .filter(id -> id >= 0 && id < tokens.length)
                .asLongStream()
                .toArray();
        return hf.decode(l, true);
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public String tokenText(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + tokens.length);
        }
        return tokens[id] == null ? "" : tokens[id];
    }

    /**
     * Writes the tokenizer.json this was loaded from, byte for byte, and its tokenizer_config.json
     * (the original when there was one, otherwise one naming the BOS/EOS found here).
     */
    @Override
    public void save(Path checkpointDir) throws IOException {
        Files.createDirectories(checkpointDir);
        Files.write(checkpointDir.resolve(HfJson.TOKENIZER_JSON), json);
        Path configFile = checkpointDir.resolve(HfJson.TOKENIZER_CONFIG_JSON);
        if (chatTemplate != null) {
            Files.write(checkpointDir.resolve(HfJson.CHAT_TEMPLATE), chatTemplate);
        }
        if (config != null) {
            Files.write(configFile, config);
        } else {
            HfJson.write(
                    configFile,
                    HfJson.config(bosId >= 0 ? tokens[bosId] : null, eosId >= 0 ? tokens[eosId] : null, null, null));
        }
    }
}
