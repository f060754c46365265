package io.rlhf4j.trainer.eval;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.data.TokenStream;
import io.rlhf4j.trainer.data.WordNetCorpus;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.pretrain.CausalLmStep;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The alignment tax as InstructGPT measures it on public NLP data, here on held-out pretraining text:
 * the language-modelling loss (nats/token) on WordNet's validation synsets. PPO tends to raise it;
 * PPO-ptx's pretraining term is there to keep it down.
 */
public final class AlignmentTax {

    private static TokenStream cached;
    private static Path cachedFor;

    private AlignmentTax() {}

    /** Validation loss of the model on up to {@code batches} windows of 8 x 128 held-out tokens. */
    public static double pretrainingLoss(Path model, int batches) throws IOException {
        TokenStream validation = validation(model);
        try (NDManager manager = TrainingDevice.newManager();
                Decoder decoder = Decoder.load(model, manager)) {
            int seqLen = Math.min(128, decoder.config().maxPositions());
            int rows = 8;
            int n = Math.min(batches, Math.max(1, validation.windowsAvailable(seqLen) / rows));
            double sum = 0;
            for (int b = 0; b < n; b++) {
                sum += CausalLmStep.evaluate(decoder, validation.sequentialBatch(b, rows, seqLen), rows, seqLen);
            }
            return sum / n;
        }
    }

    /** WordNet's held-out synsets in the model's tokens; loaded once per tokenizer (seconds). */
    private static synchronized TokenStream validation(Path model) throws IOException {
        if (cached == null || !Checkpoint.sameTokenizer(cachedFor, model)) {
            cached = TokenStream.of(WordNetCorpus.load(2).validation(), Checkpoint.readTokenizer(model));
            cachedFor = model;
        }
        return cached;
    }
}
