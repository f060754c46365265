package io.rlhf4j.serving.engine;

import io.rlhf4j.core.chat.ChatTemplate;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.List;

/**
 * Executes a policy: prefill of new prompts and decode steps over a batch whose rows carry their own
 * KV caches. It decides nothing (the scheduler does). Owned by one scheduler thread.
 */
public interface PolicyEngine extends AutoCloseable {

    String version();

    ModelConfig config();

    Tokenizer tokenizer();

    /** How a conversation becomes this model's prompt; the project's default for a model without one. */
    default ChatTemplate chatTemplate() {
        return ChatTemplate.defaultTemplate(null, null);
    }

    /** Runs the prompts through the model; the batch's rows are the prompts in order. */
    Step prefill(List<int[]> prompts);

    /**
     * As {@link #prefill(List)}, where the rows marked in {@code reusePrefix} may take the KV of a prefix
     * an earlier prefill of this engine computed instead of computing it again; such a row's prompt
     * logits are not available. An engine without a prefix cache prefills them all.
     */
    default Step prefill(List<int[]> prompts, boolean[] reusePrefix) {
        return prefill(prompts);
    }

    /** Prompt tokens at the start of {@code prompt} whose KV a prefill could reuse now; 0 without a cache. */
    default int cachedPrefix(int[] prompt) {
        return 0;
    }

    /**
     * Continues a chunked prefill: {@code batch} is one row holding the KV of {@code prompt}'s first
     * positions, and this feeds the prompt's tokens after them up to {@code to}; the step's logits are
     * those after token {@code to - 1}. Consumes the batch. An engine with a prefix cache caches the
     * prompt's blocks when {@code to} reaches its end.
     */
    default Step extend(Batch batch, int[] prompt, int to) {
        throw new UnsupportedOperationException("this engine does not prefill in chunks");
    }

    /** Feeds one token per row of {@code batch} (in row order); the batch grows by one position. */
    Step decode(Batch batch, int[] tokens);

    /**
     * A batch of the chosen rows of {@code a} followed by the chosen rows of {@code b} (either may be
     * null with no rows chosen), in that order, repeats allowed; consumes both. One copy of the caches.
     */
    Batch merge(Batch a, int[] aRows, Batch b, int[] bRows);

    /** A batch of the given rows of {@code batch}, in that order (repeats allowed); consumes it. */
    default Batch select(Batch batch, int[] rows) {
        return merge(batch, rows, null, new int[0]);
    }

    @Override
    void close();

    /** The KV caches of a set of sequences, one row each. */
    interface Batch extends AutoCloseable {
        int rows();

        @Override
        void close();
    }

    /**
     * The batch after a forward, and each row's next-token logits. After a prefill, {@code prompt} also
     * gives the logits at every prompt position, from the same forward pass (null after a decode).
     */
    record Step(Batch batch, float[][] logits, PromptLogits prompt) {
        public Step(Batch batch, float[][] logits) {
            this(batch, logits, null);
        }
    }

    /** The logits a prefill computed after each prompt token: what the model predicted next there. */
    interface PromptLogits {
        /** The logits after token {@code index} of row {@code row}'s prompt. */
        float[] at(int row, int index);
    }
}
