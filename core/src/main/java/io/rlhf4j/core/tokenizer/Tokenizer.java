package io.rlhf4j.core.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Text to token ids and back, whatever the underlying format (HF {@code tokenizer.json}, llama2.c's
 * {@code tokenizer.bin}). Implementations are immutable and safe to share between threads.
 */
public interface Tokenizer {

    /** Encodes {@code text}; with {@code addBos} the BOS id comes first (when the tokenizer has one). */
    int[] encode(String text, boolean addBos);

    /**
     * Decodes ids to text, dropping special tokens (BOS, EOS, padding) and ids the tokenizer does not
     * have (models often pad their vocabulary past the tokenizer's).
     */
    String decode(int[] ids);

    int vocabSize();

    /** BOS id, or -1 when the tokenizer has none. */
    int bosId();

    /** EOS id, or -1 when the tokenizer has none. */
    int eosId();

    /** The token's piece as stored in the vocabulary, for debugging and logprob reports. */
    String tokenText(int id);

    /**
     * Writes this tokenizer into a checkpoint directory as HF {@code tokenizer.json}, with the
     * {@code tokenizer_config.json} that tells HF transformers its special tokens.
     */
    void save(Path checkpointDir) throws IOException;
}
