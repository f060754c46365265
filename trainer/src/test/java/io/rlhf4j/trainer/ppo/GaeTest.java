package io.rlhf4j.trainer.ppo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The numeric references, including NeMo-Aligner's own GAE test case. */
class GaeTest {

    @Test
    void returnsAtGammaAndLambdaOne() {
        Gae.Result r = Gae.compute(new double[] {1, 2, 3}, new double[] {0.5, 1, 1.5}, 0, 1, 1);
        assertThat(r.returns()).containsExactly(new double[] {6, 5, 3}, within(1e-12));
        assertThat(r.advantages()).containsExactly(new double[] {5.5, 4, 1.5}, within(1e-12));
    }

    @Test
    void returnsAtGammaOneHalf() {
        Gae.Result r = Gae.compute(new double[] {1, 2, 3}, new double[] {0.5, 1, 1.5}, 0, 0.5, 1);
        assertThat(r.returns()).containsExactly(new double[] {2.75, 3.5, 3.0}, within(1e-12));
    }

    @Test
    void nemoAlignersCaseGammaOneHalfLambdaZero() {
        Gae.Result r = Gae.compute(new double[] {0, 0, 1, 0}, new double[] {0, 1, 2, 3}, 0, 0.5, 0);
        assertThat(r.advantages()).containsExactly(new double[] {0.5, 0, 0.5, -3}, within(1e-12));
    }

    @Test
    void whitenedAdvantagesHaveMeanZeroAndUnitVariance() {
        double[] w = Gae.whiten(new double[] {1, 2, 3, 10});
        double mean = 0;
        double sq = 0;
        for (double x : w) {
            mean += x;
            sq += x * x;
        }
        assertThat(mean / w.length).isCloseTo(0, within(1e-12));
        assertThat(sq / w.length).isCloseTo(1, within(1e-6));
    }
}
