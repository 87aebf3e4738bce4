package dev.backprop4j.ops;

import dev.backprop4j.core.DType;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * x converted to another dtype (x itself when it already has it). Backward: g converted back to the dtype of x's
 * gradients (float32 for a bfloat16 x: {@link DType#gradient}).
 */
public final class Cast {
    private Cast() {
    }

    public static Tensor apply(Tensor x, DType dtype) {
        OpSupport.open("cast", x);
        if (x.dtype() == dtype) {
            return x;
        }
        Tensor out = OpSupport.emptyOf(x.shape(), dtype, x);
        x.backend().cast(x.buffer(), out.buffer());
        if (!dtype.isFloating()) {
            return out;
        }
        return Tape.record("cast", out, g -> new Tensor[]{g.to(x.dtype().gradient())}, x);
    }
}
