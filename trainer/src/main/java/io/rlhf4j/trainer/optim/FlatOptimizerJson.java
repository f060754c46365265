package io.rlhf4j.trainer.optim;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * A stage config written with its optimizer's settings flat beside its own ({@code lr},
 * {@code weight_decay}, {@code grad_clip}; Adam's betas and eps only when not the defaults), which is
 * how {@link OptimizerSettings} reads them back.
 */
public interface FlatOptimizerJson {

    OptimizerConfig optimizer();

    @JsonProperty("lr")
    default double jsonLr() {
        return optimizer().lr();
    }

    @JsonProperty("weight_decay")
    default double jsonWeightDecay() {
        return optimizer().weightDecay();
    }

    @JsonProperty("grad_clip")
    default double jsonGradClip() {
        return optimizer().gradClip();
    }

    @JsonAnyGetter
    default Map<String, Double> jsonAdam() {
        return optimizer().nonDefaultAdam();
    }
}
