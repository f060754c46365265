package io.rlhf4j.trainer.ppo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class KlControllerTest {

    @Test
    void aFixedControllerKeepsBeta() {
        KlController kl =
                KlController.of(PpoConfig.defaults().with(b -> b.beta(0.05).klTarget(0)), 0.05);
        assertThat(kl).isInstanceOf(KlController.Fixed.class);
        assertThat(kl.update(100).update(0).beta()).isEqualTo(0.05);
    }

    @Test
    void anAdaptiveControllerMovesBetaTowardsTheTargetByAtMostTwoPercent() {
        KlController kl = KlController.of(PpoConfig.defaults().with(b -> b.klTarget(6)), 0.1);
        assertThat(kl).isEqualTo(new KlController.Adaptive(0.1, 6, 0.1));
        // KL 9: error 0.5, clipped to 0.2; beta * (1 + 0.1 * 0.2).
        assertThat(kl.update(9).beta()).isCloseTo(0.102, within(1e-15));
        // KL 3: error -0.5, clipped to -0.2.
        assertThat(kl.update(3).beta()).isCloseTo(0.098, within(1e-15));
        // KL 6.6: error 0.1, inside the clip.
        assertThat(kl.update(6.6).beta()).isCloseTo(0.101, within(1e-15));
        assertThat(kl.update(6).beta()).isEqualTo(0.1);
    }

    @Test
    void theAdaptiveUpdateIsBitForBitTheOneEarlierRunsUsed() {
        double beta = 0.05;
        KlController kl = new KlController.Adaptive(beta, 0.7, KlController.Adaptive.RATE);
        for (double observed : new double[] {0.1, 0.69, 2.5, 0.8, 0.0}) {
            double error = Math.max(-0.2, Math.min(0.2, observed / 0.7 - 1));
            beta *= 1 + 0.1 * error;
            kl = kl.update(observed);
            assertThat(kl.beta()).isEqualTo(beta);
        }
    }
}
