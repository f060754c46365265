package io.rlhf4j.core.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Finds the tokenizer of a checkpoint directory. */
public final class Tokenizers {

    public static final String TOKENIZER_JSON = HfJson.TOKENIZER_JSON;
    public static final String TOKENIZER_BIN = "tokenizer.bin";

    private Tokenizers() {}

    /**
     * {@code tokenizer.json} (HF) when present, else llama2.c's {@code tokenizer.bin}.
     *
     * @throws NoSuchFileException when the directory has neither
     * @throws IOException naming the file when it is unreadable or corrupt
     */
    public static Tokenizer load(Path checkpointDir) throws IOException {
        Path json = checkpointDir.resolve(TOKENIZER_JSON);
        if (Files.isRegularFile(json)) {
            return HfTokenizer.load(json);
        }
        Path bin = checkpointDir.resolve(TOKENIZER_BIN);
        if (Files.isRegularFile(bin)) {
            return Llama2cTokenizer.load(bin);
        }
        throw new NoSuchFileException(
                checkpointDir.toString(), null, "no " + TOKENIZER_JSON + " or " + TOKENIZER_BIN + " in this directory");
    }
}
