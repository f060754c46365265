package io.rlhf4j.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.trainer.model.Owned;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter): Adam with weight decay applied to the weights directly, not through
 * the gradient. Written here rather than taken from DJL because resuming a run must restore the
 * moment estimates exactly, and DJL's optimizer keeps them private. Weight decay skips vectors
 * (norm gains, biases), as nanoGPT and most LM recipes do.
 */
public final class AdamW implements AutoCloseable {

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final NDManager manager;
    private final Map<String, NDArray> mean = new LinkedHashMap<>();
    private final Map<String, NDArray> variance = new LinkedHashMap<>();
    private long step;

    public AdamW(NDManager parent, double beta1, double beta2, double eps, double weightDecay) {
        this.manager = parent.newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public long stepCount() {
        return step;
    }

    /**
     * Scales gradients so that their global L2 norm is at most {@code maxNorm}; returns the norm before
     * clipping (the number worth logging).
     */
    public static double clipGradients(Map<String, NDArray> params, double maxNorm) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double sq = 0;
            List<NDArray> grads = new ArrayList<>();
            for (NDArray p : params.values()) {
                NDArray g = p.getGradient();
                grads.add(g);
                sq += g.square().sum().getFloat();
            }
            double norm = Math.sqrt(sq);
            if (maxNorm > 0 && norm > maxNorm) {
                double scale = maxNorm / (norm + 1e-6);
                grads.forEach(g -> g.muli(scale));
            }
            return norm;
        }
    }

    /** One update of every parameter from its gradient, then zeroes the gradients. */
    public void step(Map<String, NDArray> params, double lr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray p = e.getValue();
                NDArray g = p.getGradient();
                NDArray m = state(mean, e.getKey(), p.getShape());
                NDArray v = state(variance, e.getKey(), p.getShape());
                m.muli(beta1).addi(g.mul(1 - beta1));
                v.muli(beta2).addi(g.square().mul(1 - beta2));
                if (weightDecay > 0 && p.getShape().dimension() >= 2) {
                    p.muli(1 - lr * weightDecay);
                }
                NDArray denom = v.div(bc2).sqrt().add(eps);
                p.subi(m.div(bc1).div(denom).mul(lr));
                g.muli(0);
            }
        }
    }

    private NDArray state(Map<String, NDArray> states, String name, Shape shape) {
        NDArray s = states.get(name);
        if (s == null) {
            s = manager.zeros(shape);
            NDScope.unregister(s);
            states.put(name, s);
        }
        return s;
    }

    /** The moments as tensors named {@code mean.<param>} and {@code variance.<param>}. */
    public List<Tensor> stateTensors() {
        List<Tensor> out = new ArrayList<>();
        mean.forEach((k, v) -> out.add(new Tensor("mean." + k, v.getShape().getShape(), v.toFloatArray())));
        variance.forEach(
                (k, v) -> out.add(new Tensor("variance." + k, v.getShape().getShape(), v.toFloatArray())));
        return out;
    }

    /** Restores moments written by {@link #stateTensors()} and the step count they belong to. */
    public void restore(Map<String, Tensor> tensors, long stepCount) {
        for (Tensor t : tensors.values()) {
            Map<String, NDArray> target;
            String name;
            if (t.name().startsWith("mean.")) {
                target = mean;
                name = t.name().substring(5);
            } else if (t.name().startsWith("variance.")) {
                target = variance;
                name = t.name().substring(9);
            } else {
                continue;
            }
            NDArray old = target.put(name, Owned.copy(manager.create(t.data(), new Shape(t.shape()))));
            if (old != null) {
                old.close();
            }
        }
        this.step = stepCount;
    }

    @Override
    public void close() {
        manager.close();
    }
}
