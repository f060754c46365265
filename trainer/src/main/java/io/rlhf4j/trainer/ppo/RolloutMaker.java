package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import io.rlhf4j.trainer.model.TokenLogprobs;
import io.rlhf4j.trainer.rm.RewardModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Makes one iteration's experience (OpenRLHF's experience maker): samples completions of PPO prompts
 * with the policy (the trainer's batched KV-cache generation), scores them with the frozen reward model,
 * and turns each into per-token rewards, {@code -beta * (log pi(y_t) - log pi_SFT(y_t))} at every token
 * plus the score at the last; GAE gives {@code advantages} (whitened over the whole iteration) and
 * {@code returns}. EOS is an action like any token: the reward model scores EOS-terminated sequences, as
 * it was trained to.
 */
public final class RolloutMaker {

    /** One iteration's experiences, and what generating them cost. */
    public record Rollouts(List<Experience> experiences, long generatedTokens, long generationNanos) {

        public Rollouts {
            experiences = List.copyOf(experiences);
        }

        public double meanScore() {
            double sum = 0;
            for (Experience e : experiences) {
                sum += e.score();
            }
            return sum / Math.max(1, experiences.size());
        }

        public double meanKl() {
            double sum = 0;
            for (Experience e : experiences) {
                sum += e.kl();
            }
            return sum / Math.max(1, experiences.size());
        }
    }

    private final PpoConfig config;
    private final Decoder policy;
    private final Decoder reference;
    private final RewardModel reward;
    private final ValueModel value;
    private final Tokenizer tokenizer;

    public RolloutMaker(
            PpoConfig config,
            Decoder policy,
            Decoder reference,
            RewardModel reward,
            ValueModel value,
            Tokenizer tokenizer) {
        this.config = config;
        this.policy = policy;
        this.reference = reference;
        this.reward = reward;
        this.value = value;
        this.tokenizer = tokenizer;
    }

    /** Iteration {@code it}'s rollouts: prompts taken in order, cycling, under the KL coefficient {@code beta}. */
    public Rollouts make(int it, List<int[]> prompts, double beta) {
        long t0 = System.nanoTime();
        List<int[]> batchPrompts = new ArrayList<>();
        for (int i = 0; i < config.rolloutsPerIteration(); i++) {
            batchPrompts.add(prompts.get((it * config.rolloutsPerIteration() + i) % prompts.size()));
        }
        // Temperature 1 and no filtering: the sampled tokens' log-probs are then the policy's own.
        SamplingParams sampling = new SamplingParams(
                config.maxNewTokens(), 1.0, 1.0, 0, List.of(), config.seed() * 1_000_003L + it * 7919L);
        List<Generation> gens = new Generator(policy, tokenizer).generate(batchPrompts, sampling);
        long generationNanos = System.nanoTime() - t0;
        long generated = 0;
        List<int[]> seqs = new ArrayList<>();
        List<int[]> seqPrompts = new ArrayList<>();
        for (int i = 0; i < gens.size(); i++) {
            int[] all = gens.get(i).sequence(batchPrompts.get(i), tokenizer.eosId());
            generated += all.length - batchPrompts.get(i).length;
            // Only rows that fit the window once more (the update feeds the whole sequence) take part.
            if (all.length > batchPrompts.get(i).length
                    && all.length <= policy.config().maxPositions()) {
                seqPrompts.add(batchPrompts.get(i));
                seqs.add(all);
            }
        }
        List<Experience> raw = seqs.isEmpty() ? List.of() : experiences(seqPrompts, seqs, beta);
        return new Rollouts(whiten(raw), generated, generationNanos);
    }

    private List<Experience> experiences(List<int[]> prompts, List<int[]> seqs, double beta) {
        float[][] oldLp;
        float[][] refLp;
        float[][] oldValues;
        float[] scores;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            PaddedBatch b = PaddedBatch.of(seqs, policy.manager());
            // The old log-probs come from the same right-padded forward the update uses.
            oldLp = PaddedBatch.rows(TokenLogprobs.of(policy, b));
            refLp = PaddedBatch.rows(TokenLogprobs.of(reference, b));
            oldValues = PaddedBatch.rows(
                    value.values(b.ids(), b.positions(), b.mask()).get(new NDIndex(":, :-1")));
            scores = reward.rewards(b.ids(), b.positions(), b.mask()).toFloatArray();
        }
        List<Experience> out = new ArrayList<>();
        for (int k = 0; k < seqs.size(); k++) {
            int[] p = prompts.get(k);
            int n = seqs.get(k).length - p.length;
            int[] completion = Arrays.copyOfRange(seqs.get(k), p.length, p.length + n);
            float[] old = Arrays.copyOfRange(oldLp[k], p.length - 1, p.length - 1 + n);
            float[] ref = Arrays.copyOfRange(refLp[k], p.length - 1, p.length - 1 + n);
            float[] vals = Arrays.copyOfRange(oldValues[k], p.length - 1, p.length - 1 + n);
            double[] rewards = new double[n];
            double kl = 0;
            for (int t = 0; t < n; t++) {
                double klt = old[t] - ref[t];
                kl += klt;
                rewards[t] = -beta * klt;
            }
            rewards[n - 1] += scores[k];
            double[] v = new double[n];
            for (int t = 0; t < n; t++) {
                v[t] = vals[t];
            }
            Gae.Result gae = Gae.compute(rewards, v, 0, config.discount(), config.lambda());
            out.add(new Experience(p, completion, old, ref, vals, scores[k], kl, gae.advantages(), gae.returns()));
        }
        return out;
    }

    /** Advantages whitened over every token of the iteration, not per completion. */
    static List<Experience> whiten(List<Experience> experiences) {
        int total = experiences.stream().mapToInt(e -> e.advantages().length).sum();
        if (total < 2) {
            return experiences;
        }
        double[] all = new double[total];
        int at = 0;
        for (Experience e : experiences) {
            System.arraycopy(e.advantages(), 0, all, at, e.advantages().length);
            at += e.advantages().length;
        }
        double[] w = Gae.whiten(all);
        List<Experience> out = new ArrayList<>();
        at = 0;
        for (Experience e : experiences) {
            out.add(e.withAdvantages(Arrays.copyOfRange(w, at, at + e.advantages().length)));
            at += e.advantages().length;
        }
        return out;
    }
}
