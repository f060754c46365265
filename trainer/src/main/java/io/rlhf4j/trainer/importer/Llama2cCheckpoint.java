package io.rlhf4j.trainer.importer;

import io.rlhf4j.core.checkpoint.Tensor;
import io.rlhf4j.core.config.CheckpointFormatException;
import io.rlhf4j.core.config.ModelConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads llama2.c's legacy checkpoint ({@code run.c}'s format): seven little-endian int32 header fields
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an
 * unshared classifier), then fp32 weights stacked over layers, and converts them to HF Llama tensors.
 *
 * <p>llama2.c rotates interleaved pairs (0,1), (2,3), ... of each head, HF rotates halves (i, i + hd/2);
 * the q and k projections are permuted row-wise, as HF's own conversion script does, so that both
 * conventions compute the same function.
 */
public final class Llama2cCheckpoint {

    private static final int HEADER_BYTES = 7 * 4;

    private Llama2cCheckpoint() {}

    /** A config and its tensors, as read. */
    public record Loaded(ModelConfig config, List<Tensor> tensors) {}

    public static Loaded read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_BYTES) {
                throw new CheckpointFormatException(
                        file + ": " + size + " bytes, too short for llama2.c's 28-byte header");
            }
            ByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
            int dim = buf.getInt();
            int hidden = buf.getInt();
            int layers = buf.getInt();
            int heads = buf.getInt();
            int kvHeads = buf.getInt();
            int vocabField = buf.getInt();
            int seqLen = buf.getInt();
            boolean shared = vocabField > 0;
            int vocab = Math.abs(vocabField);
            if (dim <= 0
                    || hidden <= 0
                    || layers <= 0
                    || heads <= 0
                    || kvHeads <= 0
                    || vocab == 0
                    || seqLen <= 0
                    || dim % heads != 0
                    || heads % kvHeads != 0) {
                throw new CheckpointFormatException(file + ": header fields (dim=" + dim + ", hidden_dim=" + hidden
                        + ", n_layers=" + layers + ", n_heads=" + heads + ", n_kv_heads=" + kvHeads + ", vocab_size="
                        + vocabField + ", seq_len=" + seqLen + ") are not a valid llama2.c model");
            }
            int hd = dim / heads;
            long kvDim = (long) kvHeads * hd;
            long floats = (long) vocab * dim
                    + (long) layers * (2L * dim + 2L * dim * dim + 2L * dim * kvDim + 3L * dim * hidden)
                    + dim
                    + (long) seqLen * hd
                    + (shared ? 0 : (long) vocab * dim);
            long expected = HEADER_BYTES + 4 * floats;
            if (size != expected) {
                throw new CheckpointFormatException(file + ": header (dim=" + dim + ", n_layers=" + layers
                        + ", vocab_size=" + vocabField + ", seq_len=" + seqLen + ") implies " + expected
                        + " bytes, the file has " + size);
            }
            FloatBuffer w = buf.asFloatBuffer();
            // llama2.c's run.c: RMSNorm eps 1e-5, rope theta 10000, BOS 1, EOS 2, as the rotary defaults.
            ModelConfig config = ModelConfig.rotary(
                    io.rlhf4j.core.config.ModelFamily.LLAMA,
                    vocab,
                    dim,
                    hidden,
                    layers,
                    heads,
                    kvHeads,
                    dim / heads,
                    seqLen,
                    shared);

            float[] embed = take(w, (long) vocab * dim);
            float[][] rmsAtt = split(take(w, (long) layers * dim), layers);
            float[][] wq = split(take(w, (long) layers * dim * dim), layers);
            float[][] wk = split(take(w, (long) layers * kvDim * dim), layers);
            float[][] wv = split(take(w, (long) layers * kvDim * dim), layers);
            float[][] wo = split(take(w, (long) layers * dim * dim), layers);
            float[][] rmsFfn = split(take(w, (long) layers * dim), layers);
            float[][] w1 = split(take(w, (long) layers * hidden * dim), layers);
            float[][] w2 = split(take(w, (long) layers * dim * hidden), layers);
            float[][] w3 = split(take(w, (long) layers * hidden * dim), layers);
            float[] rmsFinal = take(w, dim);
            take(w, (long) seqLen * hd); // precomputed freq_cis (real and imaginary halves): derived, not stored
            float[] cls = shared ? null : take(w, (long) vocab * dim);

            List<Tensor> t = new ArrayList<>();
            t.add(new Tensor("model.embed_tokens.weight", new long[] {vocab, dim}, embed));
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                t.add(new Tensor(p + "input_layernorm.weight", new long[] {dim}, rmsAtt[l]));
                t.add(new Tensor(
                        p + "self_attn.q_proj.weight",
                        new long[] {dim, dim},
                        interleavedToHalves(wq[l], heads, hd, dim)));
                t.add(new Tensor(
                        p + "self_attn.k_proj.weight",
                        new long[] {kvDim, dim},
                        interleavedToHalves(wk[l], kvHeads, hd, dim)));
                t.add(new Tensor(p + "self_attn.v_proj.weight", new long[] {kvDim, dim}, wv[l]));
                t.add(new Tensor(p + "self_attn.o_proj.weight", new long[] {dim, dim}, wo[l]));
                t.add(new Tensor(p + "post_attention_layernorm.weight", new long[] {dim}, rmsFfn[l]));
                t.add(new Tensor(p + "mlp.gate_proj.weight", new long[] {hidden, dim}, w1[l]));
                t.add(new Tensor(p + "mlp.up_proj.weight", new long[] {hidden, dim}, w3[l]));
                t.add(new Tensor(p + "mlp.down_proj.weight", new long[] {dim, hidden}, w2[l]));
            }
            t.add(new Tensor("model.norm.weight", new long[] {dim}, rmsFinal));
            if (!shared) {
                t.add(new Tensor("lm_head.weight", new long[] {vocab, dim}, cls));
            }
            return new Loaded(config, t);
        } catch (NoSuchFileException e) {
            throw new CheckpointFormatException(file + ": missing");
        }
    }

    /**
     * Reorders the output rows of a q/k projection from interleaved rotary pairs to rotate-half order:
     * within each head, row 2i goes to i and row 2i+1 to i + hd/2 (HF's {@code permute}).
     */
    static float[] interleavedToHalves(float[] w, int heads, int hd, int in) {
        float[] out = new float[w.length];
        int half = hd / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int pair = 0; pair < 2; pair++) {
                    int src = h * hd + 2 * i + pair;
                    int dst = h * hd + pair * half + i;
                    System.arraycopy(w, src * in, out, dst * in, in);
                }
            }
        }
        return out;
    }

    private static float[] take(FloatBuffer w, long n) {
        float[] out = new float[Math.toIntExact(n)];
        w.get(out);
        return out;
    }

    private static float[][] split(float[] all, int parts) {
        int n = all.length / parts;
        float[][] out = new float[parts][];
        for (int i = 0; i < parts; i++) {
            out[i] = java.util.Arrays.copyOfRange(all, i * n, (i + 1) * n);
        }
        return out;
    }
}
