package io.rlhf4j.core.sampling;

/** Why a completion ended, in OpenAI's words. */
public enum FinishReason {
    /** EOS or a stop sequence. */
    STOP,
    /** max_tokens or the context window. */
    LENGTH;

    public String openAiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
