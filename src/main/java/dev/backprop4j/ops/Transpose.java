package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** Swaps the last two dimensions: out[..., j, i] = x[..., i, j]. Backward: dx = transpose(g). */
public final class Transpose {
    private Transpose() {
    }

    public static Tensor apply(Tensor x) {
        OpSupport.open("transpose", x);
        if (x.rank() < 2) {
            throw new IllegalArgumentException("transpose: needs at least 2 dimensions, got " + x.shape());
        }
        int rows = x.dim(-2);
        int cols = x.dim(-1);
        int batch = (int) (x.size() / Math.max(1, (long) rows * cols));
        int[] dims = x.shape().dims();
        dims[dims.length - 2] = cols;
        dims[dims.length - 1] = rows;
        Tensor out = OpSupport.empty(Shape.of(dims), x);
        x.backend().transpose(x.buffer(), batch, rows, cols, out.buffer());
        return Tape.record("transpose", out, g -> new Tensor[]{apply(g)}, x);
    }
}
