package io.rlhf4j.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.eval.ModelLikelihood;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The completion log-probabilities DPO and RLOO train on are the ones the evaluation scorer reads off
 * a plain forward of each sequence: padding rows of other lengths beside them changes nothing.
 */
class TokenLogprobsTest {

    static final Path BASE = Path.of("..", "demo", "base-model");

    @Test
    void completionSumsEqualTheScorersLogLikelihoodsOfTheContinuations() throws Exception {
        Tokenizer tokenizer = Checkpoint.readTokenizer(BASE);
        String context = "Describe the dog:";
        List<String> continuations = List.of(" a good dog", " bad", " a river that runs to the sea");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.fromTensors(
                        Checkpoint.readConfig(BASE), Checkpoint.readWeights(BASE), m, BASE.toString())) {
            double[] expected = new ModelLikelihood(model, tokenizer).score(context, continuations);
            int promptLength = tokenizer.encode(context, true).length;
            List<int[]> seqs = new ArrayList<>();
            for (String c : continuations) {
                seqs.add(tokenizer.encode(context + c, true));
            }
            int[] starts = {promptLength, promptLength, promptLength};
            int[] lengths = seqs.stream().mapToInt(s -> s.length).toArray();
            float[] sums = TokenLogprobs.completionSums(
                            TokenLogprobs.of(model, PaddedBatch.of(seqs, m)), starts, lengths)
                    .toFloatArray();
            for (int i = 0; i < sums.length; i++) {
                assertThat((double) sums[i]).isCloseTo(expected[i], within(1e-4));
                assertThat(sums[i]).isNegative();
            }
        }
    }
}
