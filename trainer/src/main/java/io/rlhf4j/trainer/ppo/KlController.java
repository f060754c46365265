package io.rlhf4j.trainer.ppo;

/**
 * The KL coefficient {@code beta} of PPO's per-token penalty and how it changes between iterations
 * (Ziegler et al. 2019, as OpenRLHF's {@code FixedKLController} and {@code AdaptiveKLController}).
 * Immutable: {@link #update} returns the controller for the next iteration.
 */
public sealed interface KlController permits KlController.Fixed, KlController.Adaptive {

    double beta();

    /** The controller after an iteration whose rollouts had mean KL {@code kl} (summed over tokens). */
    KlController update(double kl);

    /**
     * The controller {@code config} asks for, starting at {@code beta} (the configured one, or the
     * value a resumed run had reached): adaptive when {@code kl_target} is positive.
     */
    static KlController of(PpoConfig config, double beta) {
        return config.klTarget() > 0 ? new Adaptive(beta, config.klTarget(), Adaptive.RATE) : new Fixed(beta);
    }

    /** {@code beta} never changes. */
    record Fixed(double beta) implements KlController {
        @Override
        public KlController update(double kl) {
            return this;
        }
    }

    /**
     * {@code beta *= 1 + clip(kl / target - 1, -0.2, 0.2) * rate}, where {@code rate} is Ziegler's
     * {@code n_steps / horizon}: one update per iteration, a tenth of the way along the horizon.
     */
    record Adaptive(double beta, double target, double rate) implements KlController {

        public static final double RATE = 0.1;

        public Adaptive {
            if (!(target > 0) || !(rate > 0)) {
                throw new IllegalArgumentException("an adaptive KL controller needs a positive target and rate");
            }
        }

        @Override
        public KlController update(double kl) {
            double error = Math.max(-0.2, Math.min(0.2, kl / target - 1));
            return new Adaptive(beta * (1 + rate * error), target, rate);
        }
    }
}
