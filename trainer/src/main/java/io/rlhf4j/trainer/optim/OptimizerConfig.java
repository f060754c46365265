package io.rlhf4j.trainer.optim;

import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW's settings as every stage uses them: the peak learning rate (a stage's schedule scales it per
 * step), Adam's moment decay rates and epsilon, decoupled weight decay, and the global gradient-norm
 * clip applied before each step. The betas and epsilon are nanoGPT's (0.9, 0.95, 1e-8) unless a caller
 * says otherwise.
 */
public record OptimizerConfig(double lr, double beta1, double beta2, double eps, double weightDecay, double gradClip) {

    public static final double BETA1 = 0.9;
    public static final double BETA2 = 0.95;
    public static final double EPS = 1e-8;

    /** Wire names of the settings stage configs write only when they differ from the defaults. */
    public static final String BETA1_KEY = "adam_beta1";

    public static final String BETA2_KEY = "adam_beta2";
    public static final String EPS_KEY = "adam_eps";

    public OptimizerConfig {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) {
            throw new IllegalArgumentException(
                    "need 0 <= adam_beta1, adam_beta2 < 1 and adam_eps > 0, got " + beta1 + ", " + beta2 + ", " + eps);
        }
    }

    /** AdamW with the default betas and epsilon. */
    public static OptimizerConfig adamW(double lr, double weightDecay, double gradClip) {
        return new OptimizerConfig(lr, BETA1, BETA2, EPS, weightDecay, gradClip);
    }

    public OptimizerConfig withLr(double newLr) {
        return new OptimizerConfig(newLr, beta1, beta2, eps, weightDecay, gradClip);
    }

    public OptimizerConfig withWeightDecay(double decay) {
        return new OptimizerConfig(lr, beta1, beta2, eps, decay, gradClip);
    }

    public OptimizerConfig withGradClip(double clip) {
        return new OptimizerConfig(lr, beta1, beta2, eps, weightDecay, clip);
    }

    /** The same settings with one of {@link #BETA1_KEY}, {@link #BETA2_KEY}, {@link #EPS_KEY} replaced. */
    public OptimizerConfig withAdam(String key, double value) {
        return switch (key) {
            case BETA1_KEY -> new OptimizerConfig(lr, value, beta2, eps, weightDecay, gradClip);
            case BETA2_KEY -> new OptimizerConfig(lr, beta1, value, eps, weightDecay, gradClip);
            case EPS_KEY -> new OptimizerConfig(lr, beta1, beta2, value, weightDecay, gradClip);
            default -> throw new IllegalArgumentException("not an Adam setting: " + key);
        };
    }

    /**
     * The Adam settings that differ from the defaults, by wire name. Stage configs add them to their JSON
     * only then, so the files and run states written before this record existed read and compare as before.
     */
    public Map<String, Double> nonDefaultAdam() {
        Map<String, Double> out = new LinkedHashMap<>();
        if (beta1 != BETA1) {
            out.put(BETA1_KEY, beta1);
        }
        if (beta2 != BETA2) {
            out.put(BETA2_KEY, beta2);
        }
        if (eps != EPS) {
            out.put(EPS_KEY, eps);
        }
        return out;
    }

    /** A fresh optimizer (zero moments) whose state lives in a sub-manager of {@code manager}. */
    public AdamW newAdamW(NDManager manager) {
        return new AdamW(manager, beta1, beta2, eps, weightDecay);
    }
}
