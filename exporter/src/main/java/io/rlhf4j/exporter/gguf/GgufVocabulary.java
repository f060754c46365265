package io.rlhf4j.exporter.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint's {@code tokenizer.json} as llama.cpp's {@code tokenizer.ggml.*} metadata, in one of the
 * two forms llama.cpp reads:
 *
 * <ul>
 *   <li>{@code llama} (SentencePiece-style BPE with byte fallback: Llama 1/2, TinyLlama, Mistral, the
 *       llama2.c tokenizers): pieces with {@code ▁} for spaces, byte pieces {@code <0xXX>}, and scores.
 *       llama.cpp merges the adjacent pair whose piece scores highest, so each piece scores minus the
 *       rank of the first HF merge that makes it: the same order HF's BPE applies.
 *   <li>{@code gpt2} (byte-level BPE: GPT-2, Llama 3, Qwen2, the demo model): the byte-level pieces and
 *       the merges in rank order, with the pre-tokenizer named as llama.cpp names it.
 * </ul>
 *
 * Token types are llama.cpp's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. Rows
 * of the embedding beyond the tokenizer (vocabularies padded to a round size) become unused
 * {@code [PAD<i>]} tokens, as llama.cpp's converter writes them.
 */
final class GgufVocabulary {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int NORMAL = 1;
    private static final int UNKNOWN = 2;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int UNUSED = 5;
    private static final int BYTE = 6;

    private GgufVocabulary() {}

    static void write(Path tokenizerJson, ModelConfig config, GgufFile gguf) throws IOException {
        if (!java.nio.file.Files.isRegularFile(tokenizerJson)) {
            throw new CheckpointFormatException(tokenizerJson + ": missing (GGUF export reads HF's tokenizer.json)");
        }
        JsonNode root = JSON.readTree(tokenizerJson.toFile());
        JsonNode model = root.path("model");
        if (!model.path("type").asText().equals("BPE")) {
            throw new CheckpointFormatException(tokenizerJson + ": a "
                    + model.path("type").asText("missing") + " tokenizer model cannot be written as GGUF (BPE only)");
        }
        int n = config.vocabSize();
        String[] tokens = new String[n];
        int[] types = new int[n];
        model.path("vocab")
                .fields()
                .forEachRemaining(e -> put(tokens, types, e.getValue().asInt(), e.getKey(), NORMAL));
        for (JsonNode t : root.path("added_tokens")) {
            put(
                    tokens,
                    types,
                    t.path("id").asInt(),
                    t.path("content").asText(),
                    t.path("special").asBoolean() ? CONTROL : USER_DEFINED);
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
            }
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }
        if (model.path("byte_fallback").asBoolean(false)) {
            sentencePiece(root, model, tokens, types, merges, gguf);
        } else if (byteLevel(root)) {
            gguf.put("tokenizer.ggml.model", "gpt2");
            gguf.put("tokenizer.ggml.pre", preTokenizer(root, tokenizerJson));
            gguf.putStrings("tokenizer.ggml.tokens", Arrays.asList(tokens));
            gguf.putInts("tokenizer.ggml.token_type", types);
            gguf.putStrings("tokenizer.ggml.merges", merges);
        } else {
            throw new CheckpointFormatException(tokenizerJson + ": a BPE tokenizer that is neither byte-level nor "
                    + "SentencePiece-style with byte fallback cannot be written as GGUF");
        }
        gguf.putUInt("tokenizer.ggml.bos_token_id", config.bosTokenId());
        gguf.putUInt("tokenizer.ggml.eos_token_id", config.eosTokenId());
        // rlhf4j prompts start with BOS (completions and chat alike), so llama.cpp's must too.
        gguf.putBool("tokenizer.ggml.add_bos_token", true);
        gguf.putBool("tokenizer.ggml.add_eos_token", false);
    }

    private static void put(String[] tokens, int[] types, int id, String text, int type) {
        if (id >= 0 && id < tokens.length) {
            tokens[id] = text;
            types[id] = type;
        }
    }

    private static void sentencePiece(
            JsonNode root, JsonNode model, String[] tokens, int[] types, List<String> merges, GgufFile gguf) {
        Map<String, Integer> rankOf = new HashMap<>();
        for (int r = 0; r < merges.size(); r++) {
            rankOf.putIfAbsent(merges.get(r).replace(" ", ""), r);
        }
        float[] scores = new float[tokens.length];
        String unk = model.path("unk_token").asText(null);
        for (int i = 0; i < tokens.length; i++) {
            Integer rank = rankOf.get(tokens[i]);
            // Pieces no merge makes (single characters, specials) never compete, so they score lowest.
            scores[i] = rank != null ? -rank : -1e9f;
            if (types[i] == NORMAL && tokens[i].matches("<0x[0-9A-F]{2}>")) {
                types[i] = BYTE;
            } else if (tokens[i].equals(unk)) {
                types[i] = UNKNOWN;
            }
        }
        gguf.put("tokenizer.ggml.model", "llama");
        gguf.putStrings("tokenizer.ggml.tokens", Arrays.asList(tokens));
        gguf.putFloats("tokenizer.ggml.scores", scores);
        gguf.putInts("tokenizer.ggml.token_type", types);
        if (unk != null && model.path("vocab").has(unk)) {
            gguf.putUInt(
                    "tokenizer.ggml.unknown_token_id",
                    model.path("vocab").get(unk).asInt());
        }
        // HF's Prepend("▁") normalizer (or Metaspace's prefix) is SentencePiece's dummy prefix.
        gguf.putBool(
                "tokenizer.ggml.add_space_prefix",
                root.path("normalizer").toString().contains("\"Prepend\"")
                        || root.path("pre_tokenizer")
                                .path("prepend_scheme")
                                .asText("never")
                                .equals("always"));
    }

    private static boolean byteLevel(JsonNode root) {
        return root.path("pre_tokenizer").toString().contains("\"ByteLevel\"")
                || root.path("decoder").toString().contains("\"ByteLevel\"");
    }

    /**
     * llama.cpp's name for the text splitting before BPE: GPT-2's pattern inside HF's ByteLevel
     * pre-tokenizer is {@code gpt-2}; Llama 3's and Qwen2's Split patterns are their own.
     */
    private static String preTokenizer(JsonNode root, Path file) {
        JsonNode pre = root.path("pre_tokenizer");
        if (pre.path("type").asText().equals("ByteLevel")
                && pre.path("use_regex").asBoolean(true)) {
            return "gpt-2";
        }
        for (String regex : pre.findValuesAsText("Regex")) {
            if (regex.contains("\\p{N}{1,3}")) {
                return "llama-bpe"; // Llama 3's: numbers in groups of up to three digits
            }
            if (regex.contains("|\\p{N}|")) {
                return "qwen2"; // Qwen2's: one digit at a time
            }
        }
        throw new CheckpointFormatException(file + ": its pre-tokenizer is not one this writer can name for "
                + "llama.cpp (GPT-2's ByteLevel, Llama 3's or Qwen2's Split)");
    }
}
