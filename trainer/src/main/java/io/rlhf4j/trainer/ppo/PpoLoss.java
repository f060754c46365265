package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.rlhf4j.trainer.model.Owned;

/**
 * PPO-ptx's objective as a loss to minimise (InstructGPT eq. 2): the clipped surrogate over completion
 * tokens, the clipped value regression (as OpenAI's lm-human-preferences and OpenRLHF clip it), and
 * {@code gamma} times the pretraining negative log-likelihood. Token means are over {@code mask}.
 */
public record PpoLoss(double clipRange, double valueClipRange, double gamma) {

    /**
     * The terms of one minibatch: {@code total} is what backward runs on; {@code ptx} is null without a
     * pretraining term; {@code ratio} is {@code pi / pi_old} per position, for the clip fraction.
     */
    public record Losses(NDArray total, NDArray policy, NDArray value, NDArray ptx, NDArray ratio) {}

    public static PpoLoss of(PpoConfig config) {
        return new PpoLoss(config.clipRange(), config.valueClipRange(), config.gamma());
    }

    /**
     * The minibatch's loss terms.
     *
     * @param newLogprobs the policy's log-probabilities of the taken tokens now, [B, W-1]
     * @param values the critic's values now, [B, W-1]
     * @param ptxLoss the pretraining batch's mean negative log-likelihood, or null for plain PPO
     */
    public Losses compute(NDArray newLogprobs, NDArray values, Experience.Minibatch mb, NDArray ptxLoss) {
        NDArray count = mb.mask().sum();
        NDArray ratio = newLogprobs.sub(mb.oldLogprobs()).exp();
        NDArray policy = policyLoss(ratio, mb.advantages(), mb.mask(), count);
        NDArray value = valueLoss(values, mb.oldValues(), mb.returns(), mb.mask(), count);
        NDArray total = policy.add(value);
        if (ptxLoss != null) {
            total = total.add(ptxLoss.mul(Owned.scalar(ptxLoss, gamma)));
        }
        return new Losses(total, policy, value, ptxLoss, ratio);
    }

    /** {@code mean(max(-ratio * A, -clip(ratio, 1 - eps, 1 + eps) * A))} over the masked positions. */
    public NDArray policyLoss(NDArray ratio, NDArray advantages, NDArray mask, NDArray count) {
        NDArray pg1 = ratio.mul(advantages).neg();
        NDArray pg2 = ratio.clip((float) (1 - clipRange), (float) (1 + clipRange))
                .mul(advantages)
                .neg();
        return pg1.maximum(pg2).mul(mask).sum().div(count);
    }

    /**
     * {@code 0.5 * mean(max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2))}: the critic may not move
     * further than {@code c} from its sampling-time value for free.
     */
    public NDArray valueLoss(NDArray values, NDArray oldValues, NDArray returns, NDArray mask, NDArray count) {
        NDArray clipped = oldValues.add(values.sub(oldValues).clip((float) -valueClipRange, (float) valueClipRange));
        return values.sub(returns)
                .square()
                .maximum(clipped.sub(returns).square())
                .mul(mask)
                .sum()
                .div(count)
                .mul(Owned.scalar(count, 0.5));
    }

    /** The share of masked positions whose ratio left {@code [1 - eps, 1 + eps]}. */
    public NDArray clipFraction(NDArray ratio, NDArray mask) {
        return ratio.sub(1f)
                .abs()
                .gt((float) clipRange)
                .toType(DataType.FLOAT32, false)
                .mul(mask)
                .sum()
                .div(mask.sum());
    }

    /** Mean entropy of the policy's next-token distributions over the masked positions. */
    public static NDArray entropy(NDArray logp, NDArray mask) {
        return logp.exp().mul(logp).sum(new int[] {-1}).neg().mul(mask).sum().div(mask.sum());
    }
}
