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
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray x = m.create(new float[] {1f, 2f, 3f, 4f});
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray y = f.apply(x, m).sum();
                List<ByteBuffer> junk = new ArrayList<>();
                for (int round = 0; round < 20; round++) {
                    System.gc();
                    for (int i = 0; i < 2_000; i++) {
                        ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                        b.putFloat(0, Float.NaN);
                        junk.add(b);
                    }
                }
                gc.backward(y);
                junk.clear();
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
}
