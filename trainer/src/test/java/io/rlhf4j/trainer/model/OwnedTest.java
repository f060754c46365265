package io.rlhf4j.trainer.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * Constants that autograd keeps for the backward pass must live in PyTorch's memory: after garbage
 * collections and fresh direct buffers (which reuse freed native memory), the gradients are exact.
 */
class OwnedTest {

    /** d/dx sum(f(x)) after churning the collector and native memory between forward and backward. */
    static float[] gradientAfterChurn(BiFunction<NDArray, NDManager, NDArray> f) {
        return gradient(f, true);
    }

    static float[] gradient(BiFunction<NDArray, NDManager, NDArray> f, boolean churn) {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray x = m.create(new float[] {1f, 2f, 3f, 4f});
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray y = f.apply(x, m).sum();
                if (churn) {
                    churn();
                }
                gc.backward(y);
            }
            return x.getGradient().toFloatArray();
        }
    }

    @Test
    void gradientsThroughOwnedConstantsSurviveCollections() {
        assertThat(gradientAfterChurn((x, m) -> x.mul(Owned.scalar(x, 0.5)))).containsExactly(0.5f, 0.5f, 0.5f, 0.5f);
        assertThat(gradientAfterChurn((x, m) -> x.div(Owned.scalar(x, 4)))).containsExactly(0.25f, 0.25f, 0.25f, 0.25f);
        assertThat(gradientAfterChurn((x, m) -> x.minimum(Owned.scalar(x, 2.5))))
                .containsExactly(1f, 1f, 0f, 0f);
        // Tensors made from Java data, as every batch is.
        assertThat(gradientAfterChurn((x, m) -> x.mul(Owned.copy(m.create(new float[] {1f, 2f, 3f, 4f})))))
                .containsExactly(1f, 2f, 3f, 4f);
    }
    /** Every parameter's gradient of the summed logits of a tiny model, with or without churn before backward. */
    static List<float[]> decoderGradients(io.rlhf4j.core.config.ModelConfig config, boolean churn) {
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Decoder model = Decoder.initialise(config, m, 7)) {
            model.requireGradients();
            NDArray ids = m.create(new long[] {1, 5, 9, 3}, new ai.djl.ndarray.types.Shape(1, 4));
            NDArray positions = m.create(new long[] {0, 1, 2, 3}, new ai.djl.ndarray.types.Shape(1, 4));
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray y = model.forward(ids, positions, null, null, false).sum();
                if (churn) {
                    churn();
                }
                gc.backward(y);
            }
            List<float[]> out = new ArrayList<>();
            model.parameters().values().forEach(p -> out.add(p.getGradient().toFloatArray()));
            return out;
        }
    }

    static void churn() {
        List<ByteBuffer> junk = new ArrayList<>();
        for (int round = 0; round < 20; round++) {
            System.gc();
            for (int i = 0; i < 2_000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                b.putFloat(0, Float.NaN);
                junk.add(b);
            }
        }
    }

    @Test
    void theTrainersDifferentiatedArithmeticSurvivesCollections() {
        // The ranking loss (its log-sigmoid's minimum with 0) and both families' forward (attention scale,
        // GPT-2's gelu): gradients after collections are the calm ones, bit for bit.
        BiFunction<NDArray, NDManager, NDArray> ranking =
                (x, m) -> io.rlhf4j.trainer.rm.RankingLoss.loss(x, new int[] {0, 1, 2, 2});
        float[] calm = gradient(ranking, false);
        assertThat(calm[0]).isNegative(); // the best completion's reward is pushed up
        assertThat(gradient(ranking, true)).containsExactly(calm);
        var llama = io.rlhf4j.core.config.ModelConfig.llama(16, 8, 16, 1, 2, 1, 8);
        var gpt2 = io.rlhf4j.core.config.ModelConfig.gpt2(16, 8, 1, 2, 8);
        for (var config : List.of(llama, gpt2)) {
            List<float[]> quiet = decoderGradients(config, false);
            List<float[]> churned = decoderGradients(config, true);
            for (int i = 0; i < quiet.size(); i++) {
                assertThat(churned.get(i))
                        .as("%s parameter %d", config.family(), i)
                        .containsExactly(quiet.get(i));
            }
        }
    }
}
