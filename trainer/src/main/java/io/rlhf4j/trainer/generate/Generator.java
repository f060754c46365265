package io.rlhf4j.trainer.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.sampling.FinishReason;
import io.rlhf4j.core.sampling.OutputText;
import io.rlhf4j.core.sampling.Sampler;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.KvCache;
import io.rlhf4j.trainer.model.Owned;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batched autoregressive generation with a KV cache. Prompts of different lengths are left-padded
 * into one batch: padding is masked out of attention and position ids count real tokens only, so each
 * row computes what it would alone. Finished rows leave the batch (and the cache) at once.
 *
 * <p>Without a tokenizer it works on token ids alone (texts come back empty), as an engine fed
 * pre-tokenised prompts does; EOS is the model config's {@code eos_token_id} either way.
 */
public final class Generator {

    private final Decoder model;
    private final Tokenizer tokenizer;

    public Generator(Decoder model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** BOS (when the tokenizer has one) followed by the prompt's tokens, checked against the context. */
    public int[] encodePrompt(String prompt) {
        if (tokenizer == null) {
            throw new IllegalStateException("this generator has no tokenizer; pass token ids");
        }
        int[] ids = tokenizer.encode(prompt, true);
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt is empty and the tokenizer has no BOS token to start from");
        }
        checkContext(ids);
        return ids;
    }

    private void checkContext(int[] ids) {
        int window = model.config().maxPositions();
        if (ids.length >= window) {
            throw new IllegalArgumentException("prompt is " + ids.length + " tokens; the model's context window is "
                    + window + " (max_position_embeddings), leaving no room to generate");
        }
    }

    public Generation generate(String prompt, SamplingParams params) {
        return generate(List.of(encodePrompt(prompt)), params).get(0);
    }

    /**
     * Completes every prompt. Row {@code i} draws from its own generator seeded with {@code seed + i},
     * so a batch gives each row what a batch of one with that seed would.
     */
    public List<Generation> generate(List<int[]> prompts, SamplingParams params) {
        int batch = prompts.size();
        int window = model.config().maxPositions();
        int vocab = model.config().vocabSize();
        for (int[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("a prompt has no tokens");
            }
            checkContext(p);
            for (int id : p) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + vocab);
                }
            }
        }
        long seed = params.seed() != null ? params.seed() : System.nanoTime();
        Row[] rows = new Row[batch];
        int maxLen = 0;
        for (int i = 0; i < batch; i++) {
            int budget = Math.min(params.maxTokens(), window - prompts.get(i).length);
            rows[i] = new Row(
                    prompts.get(i),
                    budget,
                    new SplittableRandom(seed + i),
                    tokenizer == null ? null : new OutputText(tokenizer, prompts.get(i), params.stop()));
            maxLen = Math.max(maxLen, prompts.get(i).length);
        }
        List<Row> active = new ArrayList<>();
        for (Row r : rows) {
            if (r.budget > 0) {
                active.add(r);
            } else {
                r.finish(params.maxTokens() == 0 ? FinishReason.LENGTH : FinishReason.LENGTH);
            }
        }
        try (NDManager m = model.manager().newSubManager();
                KvCache cache = model.newCache(m)) {
            // Prefill: every prompt, left-padded to the longest.
            long[] ids = new long[active.size() * maxLen];
            long[] pos = new long[active.size() * maxLen];
            long[][] mask = new long[active.size()][];
            for (int r = 0; r < active.size(); r++) {
                int[] p = active.get(r).prompt;
                int pad = maxLen - p.length;
                mask[r] = new long[maxLen];
                for (int j = 0; j < p.length; j++) {
                    ids[r * maxLen + pad + j] = p[j];
                    pos[r * maxLen + pad + j] = j;
                    mask[r][pad + j] = 1;
                }
            }
            float[][] next = step(m, cache, ids, pos, mask, active.size(), maxLen);
            while (!active.isEmpty()) {
                List<Integer> keep = new ArrayList<>();
                for (int r = 0; r < active.size(); r++) {
                    if (!active.get(r).accept(next[r], params, model.config())) {
                        keep.add(r);
                    }
                }
                if (keep.isEmpty()) {
                    break;
                }
                if (keep.size() < active.size()) {
                    long[] idx = keep.stream().mapToLong(Integer::longValue).toArray();
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        cache.select(Owned.copy(m.create(idx)));
                    }
                    List<Row> kept = new ArrayList<>();
                    long[][] keptMask = new long[keep.size()][];
                    for (int k = 0; k < keep.size(); k++) {
                        kept.add(active.get(keep.get(k)));
                        keptMask[k] = mask[keep.get(k)];
                    }
                    active = kept;
                    mask = keptMask;
                }
                long[] stepIds = new long[active.size()];
                long[] stepPos = new long[active.size()];
                for (int r = 0; r < active.size(); r++) {
                    Row row = active.get(r);
                    stepIds[r] = row.tokens.get(row.tokens.size() - 1);
                    stepPos[r] = row.prompt.length + row.tokens.size() - 1;
                    mask[r] = Arrays.copyOf(mask[r], mask[r].length + 1);
                    mask[r][mask[r].length - 1] = 1;
                }
                next = step(m, cache, stepIds, stepPos, mask, active.size(), 1);
            }
        }
        List<Generation> out = new ArrayList<>(batch);
        for (Row r : rows) {
            out.add(r.result());
        }
        return out;
    }

    /** One forward over [rows, len] new positions; returns the last position's logits per row. */
    private float[][] step(NDManager m, KvCache cache, long[] ids, long[] pos, long[][] mask, int rows, int len) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            int total = mask[0].length;
            long[] flatMask = new long[rows * total];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(mask[r], 0, flatMask, r * total, total);
            }
            NDArray idArr = Owned.copy(m.create(ids, new Shape(rows, len)));
            NDArray posArr = Owned.copy(m.create(pos, new Shape(rows, len)));
            NDArray maskArr = Owned.copy(m.create(flatMask, new Shape(rows, total)));
            NDArray hidden = model.hidden(idArr, posArr, maskArr, cache, false);
            NDArray last = hidden.get(new NDIndex(":, -1, :"));
            float[] flat = model.logits(last).toFloatArray();
            int vocab = model.config().vocabSize();
            float[][] out = new float[rows][];
            for (int r = 0; r < rows; r++) {
                out[r] = Arrays.copyOfRange(flat, r * vocab, (r + 1) * vocab);
            }
            return out;
        }
    }

    /** The state of one sequence while it is being generated. */
    private static final class Row {
        final int[] prompt;
        final int budget;
        final SplittableRandom rng;
        /** Its text, cut before a stop sequence; null without a tokenizer. */
        final OutputText text;

        final List<Integer> tokens = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();
        FinishReason finish;

        Row(int[] prompt, int budget, SplittableRandom rng, OutputText text) {
            this.prompt = prompt;
            this.budget = budget;
            this.rng = rng;
            this.text = text;
        }

        void finish(FinishReason reason) {
            finish = reason;
        }

        /** Takes the next token; true when the row is finished. */
        boolean accept(float[] logits, SamplingParams p, io.rlhf4j.core.config.ModelConfig config) {
            int token = Sampler.sample(logits, p, rng);
            if (config.isEos(token) && !p.ignoreEos()) {
                finish = FinishReason.STOP;
                return true;
            }
            tokens.add(token);
            logprobs.add(Sampler.logprob(logits, token));
            if (text != null) {
                text.add(token);
                if (text.stopped()) {
                    finish = FinishReason.STOP;
                    return true;
                }
            }
            if (tokens.size() >= budget) {
                finish = FinishReason.LENGTH;
                return true;
            }
            return false;
        }

        Generation result() {
            float[] lp = new float[logprobs.size()];
            for (int i = 0; i < lp.length; i++) {
                lp[i] = logprobs.get(i);
            }
            String whole = "";
            if (text != null) {
                text.finish();
                // Held-back text can still complete a stop sequence when it is released.
                finish = text.stopped() ? FinishReason.STOP : finish;
                whole = text.text();
            }
            return new Generation(
                    tokens.stream().mapToInt(Integer::intValue).toArray(),
                    lp,
                    whole,
                    finish == null ? FinishReason.LENGTH : finish);
        }
    }
}
