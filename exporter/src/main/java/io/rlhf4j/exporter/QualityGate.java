package io.rlhf4j.exporter;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rlhf4j.core.config.ModelConfig;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.exporter.ort.OrtPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What a quantized policy graph costs in quality, measured against the fp32 graph in the same engine:
 * perplexity over evaluation text (teacher-forced) and greedy agreement, the share of greedily decoded
 * tokens that match the fp32 graph's before the first difference. The parity gate cannot judge a
 * quantized graph (its logits differ by design); this gate refuses one whose perplexity rises by more
 * than the configured fraction.
 *
 * <p>The text is a file the user names, or, without one, sequences the fp32 graph samples itself at
 * temperature 1 from the start token: their perplexity under the quantized graph measures how far its
 * distribution moved from the model's own, and needs no corpus.
 */
public final class QualityGate {

    /** Tokens per evaluation sequence, at most the model's context. */
    static final int WINDOW = 128;

    static final int SEQUENCES = 8;
    static final int GREEDY_PROMPTS = 4;
    static final int GREEDY_PROMPT_TOKENS = 8;
    /** Greedy tokens compared per prompt. */
    static final int GREEDY_TOKENS = 32;
    /** The model's own distribution: temperature 1, no top-k or top-p. */
    private static final SamplingParams PLAIN = new SamplingParams(64, 1.0, 1.0, 0, List.of(), 7L);

    /** The gate's figures for one quantized graph; {@code increase} is relative, (ppl - ppl32) / ppl32. */
    public record Result(
            double perplexityFp32,
            double perplexity,
            double increase,
            double greedyAgreement,
            int greedyTokens,
            int sequences,
            int tokens,
            String text) {
        public void writeInto(ObjectNode n) {
            n.put("perplexity_fp32", perplexityFp32);
            n.put("perplexity", perplexity);
            n.put("perplexity_increase", increase);
            n.put("greedy_agreement", greedyAgreement);
            n.put("greedy_tokens", greedyTokens);
            n.put("sequences", sequences);
            n.put("tokens", tokens);
            n.put("text", text);
        }
    }

    /** A quantized graph whose perplexity rose by more than allowed. */
    public static final class QualityException extends IllegalStateException {
        public QualityException(String message) {
            super(message);
        }
    }

    private QualityGate() {}

    /**
     * The evaluation sequences: windows of {@code text} (tokenized, at most {@link #SEQUENCES}), or
     * samples of the fp32 graph when {@code text} is null.
     */
    static List<long[]> sequences(Path fp32, ModelConfig c, Tokenizer tokenizer, Path text)
            throws IOException, OrtException {
        int window = Math.min(WINDOW, c.maxPositions());
        List<long[]> out = new ArrayList<>();
        if (text != null) {
            int[] ids = tokenizer.encode(Files.readString(text), c.bosTokenId() >= 0);
            for (int from = 0; from + 2 <= ids.length && out.size() < SEQUENCES; from += window) {
                int[] part = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + window));
                out.add(Arrays.stream(part).asLongStream().toArray());
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(text + ": too little text for the quality gate (at least 2 tokens)");
            }
            return out;
        }
        SplittableRandom rng = new SplittableRandom(7);
        try (OrtPolicy policy = new OrtPolicy(fp32, c, OptLevel.ALL_OPT, 0)) {
            long[] start = {Math.max(0, c.bosTokenId())};
            for (int s = 0; s < SEQUENCES; s++) {
                long[] sampled =
                        policy.continuation(start, Math.min(64, window) - 1, l -> Sampler.sample(l, PLAIN, rng), -1);
                long[] seq = new long[sampled.length + 1];
                seq[0] = start[0];
                System.arraycopy(sampled, 0, seq, 1, sampled.length);
                out.add(seq);
            }
        }
        return out;
    }

    /** Measures {@code quantized} against {@code fp32} over {@code sequences}. */
    static Result measure(Path fp32, Path quantized, ModelConfig c, List<long[]> sequences, String text)
            throws OrtException {
        try (OrtPolicy reference = new OrtPolicy(fp32, c, OptLevel.ALL_OPT, 0);
                OrtPolicy candidate = new OrtPolicy(quantized, c, OptLevel.ALL_OPT, 0)) {
            double nll32 = 0;
            double nll = 0;
            int tokens = 0;
            for (long[] seq : sequences) {
                nll32 += negativeLogLikelihood(reference, seq);
                nll += negativeLogLikelihood(candidate, seq);
                tokens += seq.length - 1;
            }
            // A context shorter than the usual prompt and continuation shares itself between them.
            int promptTokens = Math.min(GREEDY_PROMPT_TOKENS, Math.max(1, c.maxPositions() / 2));
            int greedyLength = Math.min(GREEDY_TOKENS, c.maxPositions() - promptTokens);
            double agreement = 0;
            int prompts = Math.min(GREEDY_PROMPTS, sequences.size());
            for (int p = 0; p < prompts; p++) {
                long[] prompt = Arrays.copyOf(sequences.get(p), Math.min(promptTokens, sequences.get(p).length));
                long[] a = reference.continuation(prompt, greedyLength, Sampler::argmax, -1);
                long[] b = candidate.continuation(prompt, greedyLength, Sampler::argmax, -1);
                int same = 0;
                while (same < greedyLength && a[same] == b[same]) {
                    same++;
                }
                agreement += (double) same / greedyLength;
            }
            double ppl32 = Math.exp(nll32 / tokens);
            double ppl = Math.exp(nll / tokens);
            return new Result(
                    ppl32,
                    ppl,
                    (ppl - ppl32) / ppl32,
                    agreement / prompts,
                    greedyLength,
                    sequences.size(),
                    tokens,
                    text);
        }
    }

    /** Summed next-token NLL of {@code seq} in one prefill. */
    private static double negativeLogLikelihood(OrtPolicy policy, long[] seq) throws OrtException {
        int len = seq.length;
        long[] positions = new long[len];
        long[] mask = new long[len];
        for (int i = 0; i < len; i++) {
            positions[i] = i;
            mask[i] = 1;
        }
        float[] logits;
        try (OrtPolicy.Cache cache = policy.newCache(1)) {
            logits = policy.forward(seq, positions, mask, 1, len, cache);
        }
        int vocab = logits.length / len;
        double nll = 0;
        for (int t = 0; t + 1 < len; t++) {
            nll -= Sampler.logprob(Arrays.copyOfRange(logits, t * vocab, (t + 1) * vocab), (int) seq[t + 1]);
        }
        return nll;
    }
}
