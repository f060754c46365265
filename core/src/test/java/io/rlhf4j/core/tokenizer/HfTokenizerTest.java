package io.rlhf4j.core.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {

    @TempDir
    Path tmp;

    private static final String ADDED = "{\"id\": %d, \"content\": \"%s\", \"single_word\": false, \"lstrip\": false,"
            + " \"rstrip\": false, \"normalized\": false, \"special\": true}";

    private Path trained() throws IOException {
        new ByteLevelBpeTrainer(500).train(ByteLevelBpeTrainerTest.corpus(), tmp);
        return tmp.resolve("tokenizer.json");
    }

    private Path write(String name, String json) throws IOException {
        Path file = tmp.resolve(name);
        Files.writeString(file, json, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void findsBosAndEosByTheirConventionalNames() throws IOException {
        Path json = trained();
        Files.delete(tmp.resolve("tokenizer_config.json"));
        HfTokenizer t = HfTokenizer.load(json);
        assertThat(t.bosId()).isEqualTo(0);
        assertThat(t.eosId()).isEqualTo(1);
        assertThat(t.encode("the dog", true)).startsWith(0);
        assertThat(t.encode("the dog", false)).doesNotContain(0, 1, 2);
    }

    @Test
    void tokenizerConfigBesideTheFileNamesTheSpecialTokens() throws IOException {
        Path json = trained();
        write(
                "tokenizer_config.json",
                "{\"bos_token\": {\"content\": \"<|pad|>\", \"special\": true}," + " \"eos_token\": null}");
        HfTokenizer t = HfTokenizer.load(json);
        assertThat(t.bosId()).isEqualTo(2);
        assertThat(t.eosId()).isEqualTo(-1);
        write("tokenizer_config.json", "{\"bos_token\": \"<|eos|>\"}"); // eos_token absent: by convention
        t = HfTokenizer.load(tmp); // a directory works too
        assertThat(t.bosId()).isEqualTo(1);
        assertThat(t.eosId()).isEqualTo(1);
    }

    @Test
    void gpt2sEndOfTextIsBothBosAndEos() throws IOException {
        Path json = write(
                "tokenizer.json",
                "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
                        + " \"added_tokens\": [" + String.format(ADDED, 0, "<|endoftext|>") + "],"
                        + " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"post_processor\": null,"
                        + " \"decoder\": null, \"model\": {\"type\": \"WordLevel\", \"unk_token\": \"[UNK]\","
                        + " \"vocab\": {\"<|endoftext|>\": 0, \"hello\": 1, \"world\": 2, \"[UNK]\": 3}}}");
        HfTokenizer t = HfTokenizer.load(json);
        assertThat(t.bosId()).isEqualTo(0);
        assertThat(t.eosId()).isEqualTo(0);
        assertThat(t.vocabSize()).isEqualTo(4);
        assertThat(t.encode("hello world", true)).containsExactly(0, 1, 2);
        assertThat(t.decode(new int[] {0, 1, 2, 0})).isEqualTo("hello world");
    }

    @Test
    void readsUnigramVocabulariesAndHasNoBosWithoutOne() throws IOException {
        Path json = write(
                "tokenizer.json",
                "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,"
                        + " \"added_tokens\": [" + String.format(ADDED, 0, "<unk>") + "],"
                        + " \"normalizer\": null, \"pre_tokenizer\": null, \"post_processor\": null, \"decoder\": null,"
                        + " \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"byte_fallback\": false,"
                        + " \"vocab\": [[\"<unk>\", 0.0], [\"hello\", -1.0], [\"world\", -1.0], [\" \", -2.0]]}}");
        HfTokenizer t = HfTokenizer.load(json);
        assertThat(t.vocabSize()).isEqualTo(4);
        assertThat(t.tokenText(1)).isEqualTo("hello");
        assertThat(t.bosId()).isEqualTo(-1);
        assertThat(t.eosId()).isEqualTo(-1);
        assertThat(t.encode("hello world", true)).containsExactly(1, 3, 2);
    }

    @Test
    void neitherTruncatesNorPads() throws IOException {
        HfTokenizer t = HfTokenizer.load(trained());
        String longText = String.join(" ", ByteLevelBpeTrainerTest.corpus().subList(0, 400));
        int[] ids = t.encode(longText, true);
        assertThat(ids.length).isGreaterThan(2000); // DJL's default limit would be 512
        assertThat(t.decode(ids)).isEqualTo(longText);
        assertThat(t.encode("a", false)).hasSize(1);
    }

    @Test
    void decodeDropsSpecialTokens() throws IOException {
        HfTokenizer t = HfTokenizer.load(trained());
        int[] ids = t.encode("the little dog", false);
        int[] wrapped = new int[ids.length + 3];
        wrapped[0] = 0;
        System.arraycopy(ids, 0, wrapped, 1, ids.length);
        wrapped[ids.length + 1] = 1;
        wrapped[ids.length + 2] = 2;
        assertThat(t.decode(wrapped)).isEqualTo("the little dog");
        // A model's padded vocabulary rows are past the tokenizer: they decode to nothing.
        assertThat(t.decode(new int[] {t.vocabSize(), t.vocabSize() + 7})).isEmpty();
        assertThatThrownBy(() -> t.tokenText(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void saveCopiesTheFilesByteForByte() throws IOException {
        Path json = trained();
        HfTokenizer t = HfTokenizer.load(json);
        Path out = tmp.resolve("checkpoint");
        t.save(out);
        assertThat(Files.mismatch(json, out.resolve("tokenizer.json"))).isEqualTo(-1L);
        assertThat(Files.mismatch(tmp.resolve("tokenizer_config.json"), out.resolve("tokenizer_config.json")))
                .isEqualTo(-1L);
        HfTokenizer reloaded = (HfTokenizer) Tokenizers.load(out);
        assertThat(reloaded.encode("naïve café 😀", true)).containsExactly(t.encode("naïve café 😀", true));
    }

    @Test
    void aChatTemplateFileTravelsWithTheTokenizer() throws IOException {
        Path json = trained();
        String template = "{% for m in messages %}{{ m['content'] }}{% endfor %}\n";
        Files.writeString(tmp.resolve("chat_template.jinja"), template);
        Path out = tmp.resolve("trained-checkpoint");
        HfTokenizer.load(json).save(out);
        assertThat(out.resolve("chat_template.jinja")).hasContent(template);
    }

    @Test
    void saveWritesAConfigNamingBosAndEosWhenThereWasNone() throws IOException {
        Path json = trained();
        Files.delete(tmp.resolve("tokenizer_config.json"));
        Path out = tmp.resolve("checkpoint");
        HfTokenizer.load(json).save(out);
        assertThat(Files.readString(out.resolve("tokenizer_config.json")))
                .contains("\"bos_token\" : \"<|bos|>\"")
                .contains("\"eos_token\" : \"<|eos|>\"");
    }

    @Test
    void encodesFromManyThreadsAtOnce() throws Exception {
        HfTokenizer t = HfTokenizer.load(trained());
        List<String> texts = new ArrayList<>(ByteLevelBpeTrainerTest.corpus().subList(0, 500));
        texts.addAll(ByteLevelBpeTrainerTest.PROBES);
        List<int[]> expected = texts.stream().map(s -> t.encode(s, true)).toList();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int thread = 0; thread < 8; thread++) {
                results.add(pool.submit(() -> {
                    for (int round = 0; round < 5; round++) {
                        for (int i = 0; i < texts.size(); i++) {
                            int[] ids = t.encode(texts.get(i), true);
                            if (!java.util.Arrays.equals(ids, expected.get(i))
                                    || !t.decode(ids).equals(texts.get(i))) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> r : results) {
                assertThat(r.get()).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
