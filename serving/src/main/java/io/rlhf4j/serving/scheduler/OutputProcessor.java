package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.OutputText;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.tokenizer.Tokenizer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns one choice's sampled tokens into what its {@link Sink} receives: per step the token's id,
 * text and log-prob, the {@code topLogprobs} likeliest alternatives when asked for, and the text the
 * step makes final ({@link OutputText}: decoded incrementally, nothing a stop sequence could still
 * cut); at the end what was held back and the whole text. The scheduler decides which rows run and
 * when a choice ends; this only reports. Scheduler thread only.
 */
final class OutputProcessor {

    private final Tokenizer tokenizer;
    private final Sink sink;
    private final int choice;
    private final int topLogprobs;
    private final OutputText text;

    OutputProcessor(Tokenizer tokenizer, GenerationRequest request, Sink sink, int choice) {
        this.tokenizer = tokenizer;
        this.sink = sink;
        this.choice = choice;
        this.topLogprobs = request.topLogprobs();
        this.text = new OutputText(tokenizer, request.prompt(), request.params().stop());
    }

    /** Reports {@code token}, sampled from {@code logits}; true when it completed a stop sequence. */
    boolean token(int token, float[] logits) {
        String delta = text.add(token);
        Map<String, Float> top = topLogprobs > 0 ? top(logits) : null;
        sink.onToken(choice, new Sink.Token(token, tokenizer.decode(new int[] {token}), delta,
                Sampler.logprob(logits, token), top));
        return text.stopped();
    }

    /** The choice ended after {@code generated} tokens: the text held back, then the whole text. */
    void finish(FinishReason reason, int generated) {
        String rest = text.finish();
        if (!rest.isEmpty()) {
            sink.onToken(choice, new Sink.Token(-1, "", rest, 0f, null));
        }
        // Held-back text can still complete a stop sequence when it is released.
        sink.onFinish(choice, text.text(), text.stopped() ? FinishReason.STOP : reason, generated);
    }

    /**
     * The {@code topLogprobs} likeliest tokens by text, likeliest first (ties to the lower id; ids
     * with the same text count once, at their best), found in one pass without sorting the vocabulary.
     */
    private Map<String, Float> top(float[] logits) {
        int k = Math.min(topLogprobs, logits.length);
        int[] best = new int[k];
        int n = 0;
        for (int i = 0; i < logits.length; i++) {
            if (n == k && Float.compare(logits[i], logits[best[k - 1]]) <= 0) {
                continue;
            }
            int j = n < k ? n++ : k - 1;
            for (; j > 0 && Float.compare(logits[i], logits[best[j - 1]]) > 0; j--) {
                best[j] = best[j - 1];
            }
            best[j] = i;
        }
        Map<String, Float> out = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            out.putIfAbsent(tokenizer.decode(new int[] {best[i]}), Sampler.logprob(logits, best[i]));
        }
        return out;
    }
}
