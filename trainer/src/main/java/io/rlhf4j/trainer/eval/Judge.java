package io.rlhf4j.trainer.eval;

import ai.djl.ndarray.NDManager;
import io.rlhf4j.core.checkpoint.Checkpoint;
import io.rlhf4j.trainer.demo.DemoWorld;
import io.rlhf4j.trainer.demo.Task;
import io.rlhf4j.trainer.generate.Generation;
import io.rlhf4j.trainer.rm.RewardModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Scores completions of prompts, higher is better: the gold labelers of the demo world (correctness
 * against WordNet plus style, without the labelers' noise), or a reward model.
 */
public interface Judge extends AutoCloseable {

    String name();

    /** One score per completion; {@code promptIds} are the policy's tokens of each prompt. */
    double[] score(List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId);

    @Override
    default void close() {
    }

    /** The demo world's gold preference; every prompt must be one of its tasks. */
    static Judge gold(DemoWorld world) {
        return new Judge() {
            @Override
            public String name() {
                return "gold";
            }

            @Override
            public double[] score(List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId) {
                double[] out = new double[prompts.size()];
                for (int i = 0; i < out.length; i++) {
                    String p = prompts.get(i);
                    Task t = world.parse(p).orElseThrow(() -> new IllegalArgumentException("prompt '" + p
                            + "' is not a demo-world task, so the gold judge cannot score it; use --judge rm"));
                    out[i] = world.gold(t, completions.get(i).text());
                }
                return out;
            }
        };
    }

    /** A reward model's score of prompt + completion (+ EOS when the policy stopped). */
    static Judge rewardModel(Path dir, Path policy) throws IOException {
        if (!Checkpoint.sameTokenizer(dir, policy)) {
            throw new IllegalArgumentException(dir + ": the reward model's tokenizer differs from the policy's ("
                    + policy + "), so it cannot score the policy's tokens");
        }
        NDManager manager = NDManager.newBaseManager("PyTorch");
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
            public double[] score(List<String> prompts, List<int[]> promptIds, List<Generation> completions, int eosId) {
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
