package io.rlhf4j.trainer.rm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

class RankingLossTest {

    /** The reference: rewards [2, 1, 0] ranked in that order. */
    @Test
    void kWayLossOfTheReferenceRankingIs0_2511505() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray r = m.create(new float[] {2, 1, 0});
            assertThat(RankingLoss.loss(r, new int[] {0, 1, 2}).getFloat()).isCloseTo(0.2511505f, within(1e-6f));
        }
        assertThat(RankingLoss.value(new float[] {2, 1, 0}, new int[] {0, 1, 2}))
                .isCloseTo(0.2511505, within(1e-6));
    }

    @Test
    void allPairsOfAPromptFormOneBatchElementAndTiesGiveNoPair() {
        assertThat(RankingLoss.pairs(new int[] {0, 1, 2, 3})).hasSize(6);
        assertThat(RankingLoss.pairs(new int[] {0, 1, 1, 2})).hasSize(5);
        // Completion 2 ranked best, then 0, with 1 and 3 tied last.
        assertThat(RankingLoss.pairs(new int[] {1, 2, 0, 2}))
                .extracting(p -> p[0] + ">" + p[1])
                .containsExactlyInAnyOrder("0>1", "0>3", "2>0", "2>1", "2>3");
        assertThat(RankingLoss.pairs(new int[] {0, 0})).isEmpty();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            assertThatThrownBy(() -> RankingLoss.loss(m.create(new float[] {1, 2}), new int[] {0, 0}))
                    .hasMessageContaining("at least two completions that are not tied");
        }
    }

    @Test
    void gradientsPushTheWinnerUpAndTheLoserDown() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray r = m.create(new float[] {0, 0, 0});
            r.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray loss = RankingLoss.loss(r, new int[] {0, 1, 2});
                gc.backward(loss);
                assertThat(loss.getFloat()).isCloseTo((float) Math.log(2), within(1e-6f));
            }
            float[] g = r.getGradient().toFloatArray();
            // d/dr of -1/3 * sum log sigmoid(r_w - r_l) at 0: winner -1/3, middle 0, loser +1/3.
            assertThat(g[0]).isCloseTo(-1f / 3, within(1e-6f));
            assertThat(g[1]).isCloseTo(0f, within(1e-6f));
            assertThat(g[2]).isCloseTo(1f / 3, within(1e-6f));
        }
    }
}
