package io.rlhf4j.trainer.rloo;

import io.rlhf4j.trainer.generate.Generation;
import java.util.ArrayList;
import java.util.List;

/**
 * One iteration's samples as RLOO's update takes them: EOS-terminated sequences, where each one's
 * completion starts and ends, and the indices of each prompt's samples. A sample that no longer fits
 * the context window is left out, and so is a prompt left with fewer than two (no baseline).
 */
record Samples(List<int[]> sequences, int[] promptLengths, int[] lengths, List<int[]> groups, long generated) {

    static Samples of(List<int[]> prompts, List<Generation> gens, int k, int eosId, int window) {
        List<int[]> sequences = new ArrayList<>();
        List<Integer> promptLengths = new ArrayList<>();
        List<int[]> groups = new ArrayList<>();
        long generated = 0;
        for (int from = 0; from < prompts.size(); from += k) {
            List<int[]> group = new ArrayList<>();
            for (int i = from; i < from + k; i++) {
                int[] all = gens.get(i).sequence(prompts.get(i), eosId);
                generated += all.length - prompts.get(i).length;
                if (all.length > prompts.get(i).length && all.length <= window) {
                    group.add(all);
                }
            }
            if (group.size() >= 2) {
                int[] idx = new int[group.size()];
                for (int j = 0; j < group.size(); j++) {
                    idx[j] = sequences.size();
                    sequences.add(group.get(j));
                    promptLengths.add(prompts.get(from).length);
                }
                groups.add(idx);
            }
        }
        if (sequences.isEmpty()) {
            throw new IllegalStateException("no prompt kept two samples that fit the context window of " + window
                    + " tokens; lower max_new_tokens or use shorter prompts");
        }
        return new Samples(
                sequences,
                promptLengths.stream().mapToInt(Integer::intValue).toArray(),
                sequences.stream().mapToInt(s -> s.length).toArray(),
                groups,
                generated);
    }

    double meanCompletionLength() {
        double sum = 0;
        for (int i = 0; i < lengths.length; i++) {
            sum += lengths[i] - promptLengths[i];
        }
        return sum / lengths.length;
    }
}
