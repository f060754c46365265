package io.rlhf4j.trainer.rm;

import ai.djl.ndarray.NDArray;
import io.rlhf4j.trainer.model.Owned;
import java.util.ArrayList;
import java.util.List;

/**
 * InstructGPT's reward-model loss for one prompt with K ranked completions: every pair (w, l) where
 * the labeler put w above l contributes log sigmoid(r(x, y_w) - r(x, y_l)), and the sum is divided by
 * the number of pairs, so a prompt counts once however large K is:
 * {@code loss = -1/C(K,2) * sum log sigmoid(r_w - r_l)} (ties give no pair, and are not counted).
 */
public final class RankingLoss {

    private RankingLoss() {}

    /** The ordered pairs (winner index, loser index) implied by ranks (0 = best; equal ranks are ties). */
    public static List<int[]> pairs(int[] ranks) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < ranks.length; i++) {
            for (int j = 0; j < ranks.length; j++) {
                if (ranks[i] < ranks[j]) {
                    out.add(new int[] {i, j});
                }
            }
        }
        return out;
    }

    /** The loss over {@code rewards} [K] (differentiable); {@code ranks} as in {@link #pairs}. */
    public static NDArray loss(NDArray rewards, int[] ranks) {
        List<int[]> pairs = pairs(ranks);
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("a ranking needs at least two completions that are not tied");
        }
        // margin = D r with D[p] = e_winner - e_loser: a matrix product rather than indexing, because
        // indexing's backward accumulates repeated indices with atomic adds on CPU, in an order that
        // changes from run to run; Adam magnifies that noise and a resumed run would drift.
        int k = (int) rewards.getShape().get(0);
        float[] d = new float[pairs.size() * k];
        for (int i = 0; i < pairs.size(); i++) {
            d[i * k + pairs.get(i)[0]] = 1f;
            d[i * k + pairs.get(i)[1]] = -1f;
        }
        NDArray margin = Owned.copy(rewards.getManager().create(d, new ai.djl.ndarray.types.Shape(pairs.size(), k)))
                .matMul(rewards.reshape(k, 1))
                .reshape(pairs.size());
        // log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)): finite however wrong the ordering is.
        NDArray logSigmoid = margin.minimum(Owned.scalar(margin, 0))
                .sub(margin.abs().neg().exp().add(1f).log());
        return logSigmoid.mean().neg();
    }

    /** The same loss in plain arithmetic, for reporting and as a check on the tensor version. */
    public static double value(float[] rewards, int[] ranks) {
        List<int[]> pairs = pairs(ranks);
        double sum = 0;
        for (int[] p : pairs) {
            double d = rewards[p[0]] - rewards[p[1]];
            sum += -Math.log1p(Math.exp(-d)); // log sigmoid(d), stable for large positive d
        }
        return -sum / pairs.size();
    }
}
