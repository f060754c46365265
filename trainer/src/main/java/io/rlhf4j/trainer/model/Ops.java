package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import java.util.SplittableRandom;

/** The stateless pieces {@link Decoder} is written in, where DJL has no one-call operator for them. */
final class Ops {

    private Ops() {}

    static double gaussian(SplittableRandom rng) {
        // Box-Muller: SplittableRandom has no nextGaussian on Java 17.
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    static NDArray applyRotary(NDArray x, NDArray cos, NDArray sin) {
        long half = x.getShape().get(3) / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = NDArrays.concat(new NDList(x2.neg(), x1), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }

    /** GPT-2's "gelu_new": the tanh approximation. */
    static NDArray geluTanh(NDArray x) {
        NDArray inner =
                x.add(x.mul(x).mul(x).mul(Owned.scalar(x, 0.044715))).mul(Owned.scalar(x, Math.sqrt(2.0 / Math.PI)));
        return x.mul(Owned.scalar(x, 0.5)).mul(inner.tanh().add(1));
    }

    static NDArray embed(NDArray ids, NDArray table) {
        return ids.getNDArrayInternal()
                .embedding(ids, table, ai.djl.ndarray.types.SparseFormat.DENSE)
                .singletonOrThrow();
    }

    static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    }

    static NDArray dropout(NDArray x, float p) {
        if (p <= 0f) {
            return x;
        }
        return x.getNDArrayInternal().dropout(x, p, true).singletonOrThrow();
    }

    /** Scaled dot-product attention; q [B,H,T,hd], k/v [B,KVH,S,hd]; returns [B,T,H*hd]. */
    static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray attnBias, int groups) {
        long b = q.getShape().get(0);
        long t = q.getShape().get(2);
        if (groups > 1) {
            // Grouped-query attention: query head h reads key/value head h / groups, as HF's repeat_kv.
            long kvHeads = k.getShape().get(1);
            long s = k.getShape().get(2);
            long hd = k.getShape().get(3);
            k = k.expandDims(2).repeat(2, groups).reshape(b, kvHeads * groups, s, hd);
            v = v.expandDims(2).repeat(2, groups).reshape(b, kvHeads * groups, s, hd);
        }
        double scale = 1.0 / Math.sqrt(q.getShape().get(3));
        NDArray scores =
                q.matMul(k.transpose(0, 1, 3, 2)).mul(Owned.scalar(q, scale)).add(attnBias);
        NDArray out = scores.softmax(-1).matMul(v);
        return out.transpose(0, 2, 1, 3).reshape(b, t, -1);
    }

    /** cos and sin [B, 1, T, headDim] for HF's rotate-half rotary embedding. */
    static NDArray[] rotaryCosSin(NDArray positions, float[] invFreq) {
        NDArray freqs = positions
                .toType(DataType.FLOAT32, false)
                .expandDims(-1)
                .mul(Owned.copy(positions.getManager().create(invFreq)));
        NDArray emb = NDArrays.concat(new NDList(freqs, freqs), -1).expandDims(1);
        return new NDArray[] {emb.cos(), emb.sin()};
    }
}
