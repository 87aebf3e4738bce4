package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Maximum over the given axes (keepDim keeps them as size 1). Backward: the gradient goes to the
 * entries equal to the maximum, split evenly among ties: dx = [x == max] g / count.
 */
public final class Max {
    private Max() {
    }

    public static Tensor apply(Tensor x, int[] axes, boolean keepDim) {
        OpSupport.floating("max", x);
        int[] ax = Axes.normalize("max", x.shape(), axes);
        for (int a : ax) {
            if (x.dim(a) == 0) {
                throw new IllegalArgumentException("max: axis " + a + " of shape " + x.shape() + " is empty");
            }
        }
        Tensor out = Axes.reduce(ReduceOp.MAX, x, ax, keepDim);
        Shape kept = Axes.keptShape(x.shape(), ax);
        return Tape.record("max", out, g -> {
            Tensor mask = OpSupport.binary("max", BinaryOp.EQ, x, out.reshape(kept.dims()));
            Tensor count = mask.sum(ax, true);
            return new Tensor[]{mask.mul(g.reshape(kept.dims()).div(count))};
        }, x);
    }
}
