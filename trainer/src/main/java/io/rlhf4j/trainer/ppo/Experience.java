package io.rlhf4j.trainer.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.trainer.data.PaddedBatch;
import io.rlhf4j.trainer.model.Owned;
import java.util.Arrays;
import java.util.List;

/**
 * One sampled completion with everything PPO's update needs about it, per completion token: the
 * policy's and the frozen reference's log-probabilities at sampling time, the critic's values, the
 * whitened {@code advantages} and the {@code returns} the critic regresses on. {@code score} is the
 * reward model's, {@code kl} the completion's summed log-ratio against the reference. The arrays are
 * not changed after construction.
 */
public record Experience(
        int[] prompt,
        int[] completion,
        float[] oldLogprobs,
        float[] refLogprobs,
        float[] oldValues,
        float score,
        double kl,
        double[] advantages,
        double[] returns) {

    public Experience {
        int n = completion.length;
        if (oldLogprobs.length != n
                || refLogprobs.length != n
                || oldValues.length != n
                || advantages.length != n
                || returns.length != n) {
            throw new IllegalArgumentException("per-token arrays must have the completion's length " + n);
        }
    }

    /** Prompt then completion: what the update feeds through the policy again. */
    public int[] tokens() {
        int[] all = Arrays.copyOf(prompt, prompt.length + completion.length);
        System.arraycopy(completion, 0, all, prompt.length, completion.length);
        return all;
    }

    Experience withAdvantages(double[] whitened) {
        return new Experience(prompt, completion, oldLogprobs, refLogprobs, oldValues, score, kl, whitened, returns);
    }

    /**
     * A minibatch of experiences as tensors over the next-token positions [B, W-1] of their right-padded
     * batch: {@code mask} is 1 where a completion token is predicted, and the per-token figures sit there.
     */
    public record Minibatch(
            PaddedBatch batch,
            NDArray mask,
            NDArray oldLogprobs,
            NDArray advantages,
            NDArray returns,
            NDArray oldValues) {

        public static Minibatch of(List<Experience> experiences, NDManager m) {
            PaddedBatch b =
                    PaddedBatch.of(experiences.stream().map(Experience::tokens).toList(), m);
            int w = b.width() - 1;
            float[] act = new float[experiences.size() * w];
            float[] oldLp = new float[act.length];
            float[] adv = new float[act.length];
            float[] ret = new float[act.length];
            float[] oldV = new float[act.length];
            for (int r = 0; r < experiences.size(); r++) {
                Experience e = experiences.get(r);
                for (int t = 0; t < e.completion().length; t++) {
                    int at = r * w + e.prompt().length - 1 + t;
                    act[at] = 1;
                    oldLp[at] = e.oldLogprobs()[t];
                    adv[at] = (float) e.advantages()[t];
                    ret[at] = (float) e.returns()[t];
                    oldV[at] = e.oldValues()[t];
                }
            }
            Shape s = new Shape(experiences.size(), w);
            return new Minibatch(
                    b,
                    Owned.copy(m.create(act, s)),
                    Owned.copy(m.create(oldLp, s)),
                    Owned.copy(m.create(adv, s)),
                    Owned.copy(m.create(ret, s)),
                    Owned.copy(m.create(oldV, s)));
        }
    }
}
