package io.rlhf4j.core.config;

import java.util.Locale;
import java.util.Optional;

/** The decoder families the project supports, named by HF's {@code model_type}. */
public enum ModelFamily {
    /** RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention. */
    LLAMA("llama"),
    /** LayerNorm, learned positions, GELU MLP, tied embeddings. */
    GPT2("gpt2");

    private final String modelType;

    ModelFamily(String modelType) {
        this.modelType = modelType;
    }

    public String modelType() {
        return modelType;
    }

    public static Optional<ModelFamily> fromModelType(String type) {
        String t = type.toLowerCase(Locale.ROOT);
        for (ModelFamily f : values()) {
            if (f.modelType.equals(t)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }
}
