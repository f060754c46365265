package io.rlhf4j.serving.scheduler;

import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.IncrementalDetokenizer;
import io.rlhf4j.core.sampling.OutputText;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.serving.engine.PolicyEngine;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
        Map<String, Float> top = topLogprobs > 0 ? top(tokenizer, logits, topLogprobs) : null;
        sink.onToken(
                choice,
                new Sink.Token(token, tokenizer.decode(new int[] {token}), delta, Sampler.logprob(logits, token), top));
        return text.stopped();
    }

    /**
     * The prompt's tokens as the model scored them in the prefill ({@code logits.at(row, j)} follows
     * token j): each token's text, the text it adds to the prompt's, its log-prob given what came
     * before, and the alternatives there. The first token has nothing before it: NaN, no alternatives.
     */
    static List<Sink.Token> promptTokens(
            Tokenizer tokenizer, int[] prompt, PolicyEngine.PromptLogits logits, int row, int topLogprobs) {
        List<Sink.Token> out = new ArrayList<>(prompt.length);
        String first = tokenizer.decode(new int[] {prompt[0]});
        out.add(new Sink.Token(prompt[0], first, first, Float.NaN, null));
        IncrementalDetokenizer text = new IncrementalDetokenizer(tokenizer, new int[] {prompt[0]});
        for (int j = 1; j < prompt.length; j++) {
            float[] before = logits.at(row, j - 1);
            out.add(new Sink.Token(
                    prompt[j],
                    tokenizer.decode(new int[] {prompt[j]}),
                    text.add(prompt[j]),
                    Sampler.logprob(before, prompt[j]),
                    topLogprobs > 0 ? top(tokenizer, before, topLogprobs) : null));
        }
        return out;
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
    private static Map<String, Float> top(Tokenizer tokenizer, float[] logits, int topLogprobs) {
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
