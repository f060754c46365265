package io.rlhf4j.trainer.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.model.Decoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link LogLikelihood} from a checkpoint: all continuations of a context in one right-padded
 * forward, each sequence starting with BOS as serving's prompts do, cut from the left to the context
 * window as lm-evaluation-harness cuts them.
 */
public final class ModelLikelihood implements LogLikelihood {

    private final Decoder model;
    private final Tokenizer tokenizer;

    public ModelLikelihood(Decoder model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    @Override
    public double[] score(String context, List<String> continuations) {
        int window = model.config().maxPositions();
        int contextLength = tokenizer.encode(context, true).length;
        List<int[]> sequences = new ArrayList<>();
        int[] continuationLength = new int[continuations.size()];
        for (int i = 0; i < continuations.size(); i++) {
            int[] whole = tokenizer.encode(context + continuations.get(i), true);
            continuationLength[i] = Math.max(1, whole.length - contextLength);
            if (continuationLength[i] >= window) {
                throw new IllegalArgumentException("a continuation of " + continuationLength[i]
                        + " tokens does not fit the model's context of " + window);
            }
            sequences.add(
                    whole.length > window ? Arrays.copyOfRange(whole, whole.length - window, whole.length) : whole);
        }
        double[] out = new double[sequences.size()];
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            PaddedBatch b = PaddedBatch.of(sequences, model.manager());
            NDArray logProbs =
                    model.forward(b.ids(), b.positions(), b.mask(), null, false).logSoftmax(-1);
            long t = logProbs.getShape().get(1);
            int vocab = (int) logProbs.getShape().get(2);
            float[] lp = logProbs.toFloatArray();
            for (int i = 0; i < sequences.size(); i++) {
                int[] s = sequences.get(i);
                double sum = 0;
                // The token at position p is predicted by the logits at p - 1.
                for (int p = s.length - continuationLength[i]; p < s.length; p++) {
                    sum += lp[(int) ((i * t + p - 1) * vocab + s[p])];
                }
                out[i] = sum;
            }
        }
        return out;
    }
}
