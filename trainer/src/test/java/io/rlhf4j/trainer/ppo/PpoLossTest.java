package io.rlhf4j.trainer.ppo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** PPO's loss terms on tensors small enough to work out by hand. */
class PpoLossTest {

    static NDManager m;
    static final PpoLoss LOSS = new PpoLoss(0.2, 0.2, 0.5);
    static final Shape S = new Shape(2, 3);

    @BeforeAll
    static void manager() {
        m = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void close() {
        m.close();
    }

    NDArray t(float... v) {
        return m.create(v, S);
    }

    // ratio 1.5, A +1: clipped above, -1.2. ratio 0.5, A -1: clipped below, +0.8. ratio 1.1, A +2: inside, -2.2.
    // ratio 0.5, A +2: the unclipped term is the pessimistic one, -1.0. The last two positions are padding.
    final float[] ratio = {1.5f, 0.5f, 1.1f, 0.5f, 1.1f, 1.0f};
    final float[] advantages = {1, -1, 2, 2, 3, 0};
    final float[] mask = {1, 1, 1, 1, 0, 0};

    @Test
    void theSurrogateIsClippedOnBothSidesAndPessimistic() {
        NDArray loss = LOSS.policyLoss(t(ratio), t(advantages), t(mask), t(mask).sum());
        assertThat(loss.getFloat()).isCloseTo((-1.2f + 0.8f - 2.2f - 1.0f) / 4, within(1e-6f));
        assertThat(LOSS.clipFraction(t(ratio), t(mask)).getFloat()).isCloseTo(0.75f, within(1e-6f));
    }

    // V 1.0 from 0.5 towards R 1.0: clipped to 0.7, (0.3)^2 = 0.09 beats 0. V 0.6 from 0.5, R 0: inside, 0.36.
    // V -1 from 0, R -1: clipped to -0.2, 0.64 beats 0. The fourth (masked) would be 25.
    final float[] values = {1.0f, 0.6f, -1f, 5f, 0, 0};
    final float[] oldValues = {0.5f, 0.5f, 0, 0, 0, 0};
    final float[] returns = {1.0f, 0, -1f, 0, 0, 0};
    final float[] valueMask = {1, 1, 1, 0, 0, 0};

    @Test
    void theValueLossIsClippedAroundTheOldValue() {
        NDArray loss = LOSS.valueLoss(
                t(values), t(oldValues), t(returns), t(valueMask), t(valueMask).sum());
        assertThat(loss.getFloat()).isCloseTo(0.5f * (0.09f + 0.36f + 0.64f) / 3, within(1e-6f));
    }

    @Test
    void thePretrainingTermIsWeightedByGamma() {
        Experience.Minibatch mb =
                new Experience.Minibatch(null, t(mask), t(0, 0, 0, 0, 0, 0), t(advantages), t(returns), t(oldValues));
        NDArray newLogprobs = t(ratio).log();
        PpoLoss.Losses plain = LOSS.compute(newLogprobs, t(values), mb, null);
        assertThat(plain.ptx()).isNull();
        assertThat(plain.total().getFloat())
                .isCloseTo(plain.policy().getFloat() + plain.value().getFloat(), within(1e-6f));
        PpoLoss.Losses mixed = LOSS.compute(newLogprobs, t(values), mb, m.create(2.0f));
        assertThat(mixed.total().getFloat()).isCloseTo(plain.total().getFloat() + 0.5f * 2.0f, within(1e-6f));
        assertThat(new PpoLoss(0.2, 0.2, 0.0)
                        .compute(newLogprobs, t(values), mb, m.create(2.0f))
                        .total()
                        .getFloat())
                .isCloseTo(plain.total().getFloat(), within(1e-6f));
    }

    @Test
    void entropyOfAUniformChoiceIsLogTwo() {
        NDArray logp =
                m.create(new float[] {(float) Math.log(0.5), (float) Math.log(0.5), 0f, -100f}, new Shape(1, 2, 2));
        NDArray firstOnly = m.create(new float[] {1, 0}, new Shape(1, 2));
        assertThat(PpoLoss.entropy(logp, firstOnly).getFloat()).isCloseTo((float) Math.log(2), within(1e-6f));
    }
}
