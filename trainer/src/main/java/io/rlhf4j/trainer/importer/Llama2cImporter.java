package io.rlhf4j.trainer.importer;

import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Llama2cTokenizer;
import java.io.IOException;
import java.nio.file.Path;

/** Imports a llama2.c model and its tokenizer as an HF-layout checkpoint directory. */
public final class Llama2cImporter {

    private Llama2cImporter() {}

    public static ModelConfig importModel(Path model, Path tokenizerFile, Path out) throws IOException {
        Llama2cCheckpoint.Loaded loaded = Llama2cCheckpoint.read(model);
        Llama2cTokenizer tokenizer = Llama2cTokenizer.load(tokenizerFile);
        if (tokenizer.vocabSize() != loaded.config().vocabSize()) {
            throw new CheckpointFormatException(tokenizerFile + ": tokenizer has " + tokenizer.vocabSize()
                    + " tokens, the model's vocab_size is " + loaded.config().vocabSize());
        }
        ModelConfig config = loaded.config().withSpecialTokens(tokenizer.bosId(), tokenizer.eosId());
        Checkpoint.write(out, config, loaded.tensors(), tokenizer, null);
        return config;
    }
}
