package io.rlhf4j.trainer.importer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * An independent reference: llama2.c's {@code run.c} forward pass ported line by line to Java,
 * reading the llama2.c file format directly and rotating interleaved pairs as run.c does. Tests compare
 * the DJL model (HF layout, rotate-half rotary, after the importer's permutation) against it.
 */
final class Llama2cReference {

    final int dim;
    final int hidden;
    final int layers;
    final int heads;
    final int kvHeads;
    final int vocab;
    final int seqLen;
    final float[] embed;
    final float[] rmsAtt;
    final float[] wq;
    final float[] wk;
    final float[] wv;
    final float[] wo;
    final float[] rmsFfn;
    final float[] w1;
    final float[] w2;
    final float[] w3;
    final float[] rmsFinal;
    final float[] wcls;
    private final float[] keyCache;
    private final float[] valueCache;

    Llama2cReference(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        dim = b.getInt();
        hidden = b.getInt();
        layers = b.getInt();
        heads = b.getInt();
        kvHeads = b.getInt();
        int v = b.getInt();
        seqLen = b.getInt();
        vocab = Math.abs(v);
        int hs = dim / heads;
        int kvDim = kvHeads * hs;
        FloatBuffer f = b.asFloatBuffer();
        embed = take(f, vocab * dim);
        rmsAtt = take(f, layers * dim);
        wq = take(f, layers * dim * dim);
        wk = take(f, layers * dim * kvDim);
        wv = take(f, layers * dim * kvDim);
        wo = take(f, layers * dim * dim);
        rmsFfn = take(f, layers * dim);
        w1 = take(f, layers * dim * hidden);
        w2 = take(f, layers * hidden * dim);
        w3 = take(f, layers * dim * hidden);
        rmsFinal = take(f, dim);
        take(f, seqLen * hs);
        wcls = v > 0 ? embed : take(f, vocab * dim);
        keyCache = new float[layers * seqLen * kvDim];
        valueCache = new float[layers * seqLen * kvDim];
    }

    private static float[] take(FloatBuffer f, int n) {
        float[] out = new float[n];
        f.get(out);
        return out;
    }

    /** run.c's forward(transformer, token, pos): logits for the next token. Call with pos = 0, 1, 2, ... */
    float[] forward(int token, int pos) {
        int hs = dim / heads;
        int kvDim = kvHeads * hs;
        int kvMul = heads / kvHeads;
        float[] x = new float[dim];
        System.arraycopy(embed, token * dim, x, 0, dim);
        float[] xb = new float[dim];
        float[] xb2 = new float[dim];
        float[] hb = new float[hidden];
        float[] hb2 = new float[hidden];
        float[] q = new float[dim];
        float[] att = new float[seqLen];
        for (int l = 0; l < layers; l++) {
            rmsnorm(xb, x, rmsAtt, l * dim);
            int loff = l * seqLen * kvDim;
            float[] k = new float[kvDim];
            float[] vv = new float[kvDim];
            matmul(q, xb, wq, l * dim * dim, dim, dim);
            matmul(k, xb, wk, l * dim * kvDim, dim, kvDim);
            matmul(vv, xb, wv, l * dim * kvDim, dim, kvDim);
            for (int i = 0; i < dim; i += 2) {
                int headDim = i % hs;
                float freq = (float) (1.0 / Math.pow(10000.0f, headDim / (float) hs));
                float val = pos * freq;
                float fcr = (float) Math.cos(val);
                float fci = (float) Math.sin(val);
                int rotn = i < kvDim ? 2 : 1;
                for (int r = 0; r < rotn; r++) {
                    float[] vec = r == 0 ? q : k;
                    float v0 = vec[i];
                    float v1 = vec[i + 1];
                    vec[i] = v0 * fcr - v1 * fci;
                    vec[i + 1] = v0 * fci + v1 * fcr;
                }
            }
            System.arraycopy(k, 0, keyCache, loff + pos * kvDim, kvDim);
            System.arraycopy(vv, 0, valueCache, loff + pos * kvDim, kvDim);
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t <= pos; t++) {
                    double score = 0;
                    for (int i = 0; i < hs; i++) {
                        score += q[h * hs + i] * keyCache[loff + t * kvDim + (h / kvMul) * hs + i];
                    }
                    att[t] = (float) (score / Math.sqrt(hs));
                }
                softmax(att, pos + 1);
                for (int i = 0; i < hs; i++) {
                    double acc = 0;
                    for (int t = 0; t <= pos; t++) {
                        acc += att[t] * valueCache[loff + t * kvDim + (h / kvMul) * hs + i];
                    }
                    xb[h * hs + i] = (float) acc;
                }
            }
            matmul(xb2, xb, wo, l * dim * dim, dim, dim);
            for (int i = 0; i < dim; i++) {
                x[i] += xb2[i];
            }
            rmsnorm(xb, x, rmsFfn, l * dim);
            matmul(hb, xb, w1, l * dim * hidden, dim, hidden);
            matmul(hb2, xb, w3, l * dim * hidden, dim, hidden);
            for (int i = 0; i < hidden; i++) {
                float val = hb[i];
                val *= (float) (1.0 / (1.0 + Math.exp(-val)));
                hb[i] = val * hb2[i];
            }
            matmul(xb, hb, w2, l * dim * hidden, hidden, dim);
            for (int i = 0; i < dim; i++) {
                x[i] += xb[i];
            }
        }
        rmsnorm(x, x, rmsFinal, 0);
        float[] logits = new float[vocab];
        matmul(logits, x, wcls, 0, dim, vocab);
        return logits;
    }

    private void rmsnorm(float[] o, float[] x, float[] w, int off) {
        double ss = 0;
        for (int j = 0; j < dim; j++) {
            ss += x[j] * x[j];
        }
        ss = 1.0 / Math.sqrt(ss / dim + 1e-5);
        for (int j = 0; j < dim; j++) {
            o[j] = (float) (w[off + j] * (ss * x[j]));
        }
    }

    private static void softmax(float[] x, int size) {
        float max = x[0];
        for (int i = 1; i < size; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = 0; i < size; i++) {
            x[i] = (float) Math.exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < size; i++) {
            x[i] /= sum;
        }
    }

    /** W (d,n) @ x (n,) -> xout (d,), as run.c's matmul. */
    private static void matmul(float[] xout, float[] x, float[] w, int off, int n, int d) {
        for (int i = 0; i < d; i++) {
            double val = 0;
            for (int j = 0; j < n; j++) {
                val += w[off + i * n + j] * x[j];
            }
            xout[i] = (float) val;
        }
    }
}
