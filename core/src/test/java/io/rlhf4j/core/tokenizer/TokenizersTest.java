package io.rlhf4j.core.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {

    @TempDir
    Path dir;

    private Path writeBin() throws IOException {
        Map<String, Float> extra = new LinkedHashMap<>();
        extra.put(" ", -10f);
        extra.put("h", -10f);
        extra.put("i", -10f);
        extra.put("hi", -1f);
        return Llama2cTokenizerTest.writeBin(dir.resolve("tokenizer.bin"), extra);
    }

    @Test
    void loadsTokenizerBinWhenThereIsNoTokenizerJson() throws IOException {
        writeBin();
        Tokenizer t = Tokenizers.load(dir);
        assertThat(t).isInstanceOf(Llama2cTokenizer.class);
        assertThat(t.decode(t.encode("hi", true))).isEqualTo("hi");
    }

    @Test
    void prefersTokenizerJson() throws IOException {
        Llama2cTokenizer.load(writeBin()).save(dir);
        Tokenizer t = Tokenizers.load(dir);
        assertThat(t).isInstanceOf(HfTokenizer.class);
        assertThat(t.vocabSize()).isEqualTo(263);
        assertThat(t.encode("hi", true)).containsExactly(1, 259, 262);
    }

    @Test
    void namesBothFilesWhenNeitherExists() {
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("tokenizer.bin");
        assertThatThrownBy(() -> Tokenizers.load(dir.resolve("missing")))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("missing");
    }

    @Test
    void namesATruncatedTokenizerBin() throws IOException {
        Path bin = writeBin();
        byte[] whole = Files.readAllBytes(bin);
        Files.write(bin, Arrays.copyOf(whole, whole.length - 1));
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(bin.toString())
                .hasMessageContaining("truncated in token 262");
        Files.write(bin, Arrays.copyOf(whole, 6));
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .hasMessageContaining(bin.toString())
                .hasMessageContaining("truncated in the header of token 0");
        Files.write(bin, new byte[2]);
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .hasMessageContaining(bin.toString())
                .hasMessageContaining("header");
        // Cut at a record boundary inside the byte pieces: too few tokens for byte fallback.
        Files.write(bin, Arrays.copyOf(whole, 4 + 3 * 8 + "<unk>\n<s>\n\n</s>\n".length()));
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .hasMessageContaining(bin.toString())
                .hasMessageContaining("only 3 tokens");
    }

    @Test
    void namesAnInvalidTokenizerJson() throws IOException {
        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> Tokenizers.load(dir))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("invalid JSON")
                .hasMessageContaining(json.toString());
    }

    @Test
    void namesATokenizerJsonTheTokenizersLibraryRejects() throws IOException {
        Path json = dir.resolve("tokenizer.json");
        for (String bad : List.of(
                "{}",
                "[1, 2]",
                "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}",
                "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": null,"
                        + " \"post_processor\": null, \"decoder\": null, \"truncation\": null, \"padding\": null,"
                        + " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"zz\"]]}}")) {
            Files.writeString(json, bad, StandardCharsets.UTF_8);
            assertThatThrownBy(() -> Tokenizers.load(dir))
                    .as(bad)
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining(json.toString());
        }
    }
}
