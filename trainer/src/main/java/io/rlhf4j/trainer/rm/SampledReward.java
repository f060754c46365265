package io.rlhf4j.trainer.rm;

import io.rlhf4j.core.sampling.SamplingParams;
import io.rlhf4j.core.tokenizer.Tokenizer;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.generate.Generator;
import io.rlhf4j.trainer.model.Decoder;
import java.util.ArrayList;
import java.util.List;

/**
 * The mean reward-model score of one sampled completion (temperature 1) per prompt: how the RL stages
 * report the policy before and after, with a fixed seed so the two figures compare.
 */
public final class SampledReward {

    private SampledReward() {}

    /** @param chunk prompts generated together */
    public static double mean(
            Decoder model,
            RewardModel reward,
            Tokenizer tokenizer,
            List<int[]> prompts,
            int maxNewTokens,
            int chunk,
            long seed) {
        double sum = 0;
        for (int from = 0; from < prompts.size(); from += chunk) {
            List<int[]> part = prompts.subList(from, Math.min(prompts.size(), from + chunk));
            SamplingParams sampling = new SamplingParams(maxNewTokens, 1.0, 1.0, 0, List.of(), seed + from);
            List<Generation> gens = new Generator(model, tokenizer).generate(part, sampling);
            List<int[]> seqs = new ArrayList<>();
            for (int i = 0; i < gens.size(); i++) {
                seqs.add(gens.get(i).sequence(part.get(i), tokenizer.eosId()));
            }
            for (float x : reward.scores(seqs)) {
                sum += x;
            }
        }
        return sum / prompts.size();
    }
}
