package io.rlhf4j.trainer.optim;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * What every stage config's builder takes of its optimizer, by name and flat in the config's JSON
 * ({@code lr}, {@code weight_decay}, {@code grad_clip}, and Adam's betas and eps), as the files written
 * before {@link OptimizerConfig} existed have them.
 *
 * @param <B> the stage config's builder
 */
public abstract class OptimizerSettings<B extends OptimizerSettings<B>> {

    protected OptimizerConfig optimizer;

    protected OptimizerSettings(OptimizerConfig defaults) {
        this.optimizer = defaults;
    }

    @SuppressWarnings("unchecked") // B is the subclass itself
    private B self() {
        return (B) this;
    }

    public B optimizer(OptimizerConfig v) {
        optimizer = v;
        return self();
    }

    @JsonProperty("lr")
    public B lr(double v) {
        return optimizer(optimizer.withLr(v));
    }

    @JsonProperty("weight_decay")
    public B weightDecay(double v) {
        return optimizer(optimizer.withWeightDecay(v));
    }

    @JsonProperty("grad_clip")
    public B gradClip(double v) {
        return optimizer(optimizer.withGradClip(v));
    }

    @JsonProperty(OptimizerConfig.BETA1_KEY)
    public B adamBeta1(double v) {
        return optimizer(optimizer.withAdam(OptimizerConfig.BETA1_KEY, v));
    }

    @JsonProperty(OptimizerConfig.BETA2_KEY)
    public B adamBeta2(double v) {
        return optimizer(optimizer.withAdam(OptimizerConfig.BETA2_KEY, v));
    }

    @JsonProperty(OptimizerConfig.EPS_KEY)
    public B adamEps(double v) {
        return optimizer(optimizer.withAdam(OptimizerConfig.EPS_KEY, v));
    }
}
