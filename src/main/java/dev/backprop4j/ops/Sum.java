package dev.backprop4j.ops;

import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** Sum over the given axes (keepDim keeps them as size 1). Backward: dx = g (with the axes restored) expanded to x's shape. */
public final class Sum {
    private Sum() {
    }

    public static Tensor apply(Tensor x, int[] axes, boolean keepDim) {
        OpSupport.floating("sum", x);
        int[] ax = Axes.normalize("sum", x.shape(), axes);
        Tensor out = Axes.reduce(ReduceOp.SUM, x, ax, keepDim);
        Shape kept = Axes.keptShape(x.shape(), ax);
        return Tape.record("sum", out, g -> new Tensor[]{g.reshape(kept.dims()).expand(x.shape())}, x);
    }
}
