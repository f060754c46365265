package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;

/**
 * Tensors made from Java data, moved into memory PyTorch owns. DJL's PyTorch engine builds such a
 * tensor with {@code from_blob} over a direct buffer that only its Java wrapper keeps alive; views of
 * it and tensors autograd saves for backward share that memory without keeping the buffer, so after a
 * garbage collection they can read freed memory. Measured: the reward-model stage under a 32 MB heap
 * (frequent collections) diverged to NaN in 10 of 15 runs, and in none of 15 with the default heap.
 * Also where a forward's intermediates are let go ({@link #keepingOnlyTheResult}).
 */
public final class Owned {

    private Owned() {}

    /**
     * The constant {@code value} as a tensor in PyTorch's memory, for arithmetic that autograd must
     * differentiate. DJL's {@code x.mul(0.5)} makes the scalar with {@code from_blob} and closes it as
     * soon as the product is made, yet autograd keeps it for the backward pass ({@code mul}, {@code div},
     * {@code pow}, {@code minimum} and {@code maximum} need it there), which then reads freed memory:
     * this was the reward model's NaN. {@code add} and {@code sub} do not keep it.
     */
    public static NDArray scalar(NDArray like, double value) {
        return copy(like.getManager().create((float) value));
    }

    /** A copy of {@code fromJava} in PyTorch's memory; {@code fromJava} is closed. */
    public static NDArray copy(NDArray fromJava) {
        NDArray owned = fromJava.duplicate();
        fromJava.close();
        return owned;
    }

    /**
     * Overwrites {@code target}'s values in place. Not {@code NDArray.set}: with the PyTorch engine it
     * can leave the tensor reading a Java buffer that is later collected; arithmetic in place copies.
     */
    public static void overwrite(NDArray target, float[] data) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray source = copy(target.getManager().create(data, target.getShape()));
            target.muli(0).addi(source);
        }
    }

    /**
     * Runs {@code block} (a decoder layer) in a scope of its own and keeps only its result, in the
     * caller's scope. DJL frees an op's result only when its scope or manager closes, so a
     * whole-sequence forward otherwise held every intermediate of every layer until the caller's scope
     * ended: a reward model scoring 16 sequences of a 110M model
     * grew by 2.7 GB. Autograd holds its own references to what backward needs, so closing the handles
     * frees only what nothing uses. (Not with a KV cache: the cache keeps arrays made inside the block.)
     */
    public static NDArray keepingOnlyTheResult(java.util.function.Supplier<NDArray> block) {
        NDArray out;
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            scope.suppressNotUsedWarning();
            out = block.get();
            ai.djl.ndarray.NDScope.unregister(out);
        }
        ai.djl.ndarray.NDScope.register(out);
        return out;
    }
}
