package io.rlhf4j.core.store;

import io.rlhf4j.core.chat.ChatMessage;
import java.util.List;

/**
 * One served request as the trainer will read it: the prompt, who sent it and whether they consent to
 * training, where it came from, the sampling parameters, and every completion with its log-probs. A
 * chat request keeps its conversation in {@code messages} beside {@code text}, the prompt its chat
 * template rendered; a completions request has no messages.
 */
public record PromptLog(
        String id,
        String userId,
        boolean consent,
        String source,
        String text,
        String modelVersion,
        String paramsJson,
        long createdAt,
        List<Completion> completions,
        List<ChatMessage> messages) {

    public PromptLog {
        completions = List.copyOf(completions);
        messages = messages == null ? List.of() : List.copyOf(messages);
    }

    /** A prompt sent as text. */
    public PromptLog(
            String id,
            String userId,
            boolean consent,
            String source,
            String text,
            String modelVersion,
            String paramsJson,
            long createdAt,
            List<Completion> completions) {
        this(id, userId, consent, source, text, modelVersion, paramsJson, createdAt, completions, List.of());
    }

    /** One completion of the prompt. */
    public record Completion(int index, String text, int tokens, float[] logprobs, String finishReason) {}
}
