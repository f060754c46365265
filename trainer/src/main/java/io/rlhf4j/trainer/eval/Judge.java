package io.rlhf4j.trainer.eval;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.rm.RewardModel;
import io.rlhf4j.trainer.run.TrainingDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Scores completions of prompts, higher is better: a reward model, or a judge another module provides
 * by name (the demo world's gold labelers).
 */
public interface Judge extends AutoCloseable {

    String name();

    /** One score per completion; {@code promptIds} are the policy's tokens of each prompt. */
    double[] score(List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId);

    @Override
    default void close() {}

    /**
     * The judge called {@code name}: {@code rm} is the reward model in {@code rm} scoring {@code policy}'s
     * tokens; any other name is a {@link JudgeProvider} on the class path.
     */
    static Judge named(String name, List<String> prompts, Path rm, Path policy) throws IOException {
        if (name.equals("rm")) {
            if (rm == null) {
                throw new IllegalArgumentException("judge rm needs a reward model");
            }
            return rewardModel(rm, policy);
        }
        List<String> known = new ArrayList<>(List.of("rm"));
        for (JudgeProvider p : ServiceLoader.load(JudgeProvider.class)) {
            if (p.name().equals(name)) {
                return p.open(prompts);
            }
            known.add(p.name());
        }
        throw new IllegalArgumentException("no judge called '" + name + "' (known: " + String.join(", ", known) + ")");
    }

    /** A reward model's score of prompt + completion (+ EOS when the policy stopped). */
    static Judge rewardModel(Path dir, Path policy) throws IOException {
        RewardModel.requireTokenizerOf(policy, dir);
        NDManager manager = TrainingDevice.newManager();
        RewardModel rm;
        try {
            rm = RewardModel.load(dir, manager);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
        return new Judge() {
            @Override
            public String name() {
                return "rm:" + dir.toAbsolutePath().normalize();
            }

            @Override
            public double[] score(
                    List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId) {
                List<int[]> seqs = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    seqs.add(completions.get(i).sequence(promptIds.get(i), eosId));
                }
                float[] r = rm.scores(seqs);
                double[] out = new double[r.length];
                for (int i = 0; i < r.length; i++) {
                    out[i] = r[i];
                }
                return out;
            }

            @Override
            public void close() {
                rm.close();
                manager.close();
            }
        };
    }
}
