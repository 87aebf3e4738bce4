package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** out[r] = x[r, index[r]] for x [rows, cols] and int32 index [rows]. Backward: dx = zeros with g[r] at (r, index[r]). */
public final class Gather {
    private Gather() {
    }

    public static Tensor apply(Tensor x, Tensor index) {
        OpSupport.floating("gather", x);
        OpSupport.intIndexOn("gather", "index", index, x);
        if (x.rank() != 2 || index.rank() != 1 || index.dim(0) != x.dim(0)) {
            throw new IllegalArgumentException("gather: needs x [rows, cols] and index [rows], got " + x.shape()
                    + " and " + index.shape());
        }
        int rows = x.dim(0);
        int cols = x.dim(1);
        Tensor out = OpSupport.empty(Shape.of(rows), x);
        x.backend().gatherRows(x.buffer(), index.buffer(), rows, cols, out.buffer());
        return Tape.record("gather", out, g -> {
            Tensor dx = Tensor.zeros(x.shape(), g.dtype(), g.device());
            g.backend().scatterRows(g.buffer(), index.buffer(), rows, cols, dx.buffer());
            return new Tensor[]{dx, null};
        }, x, index);
    }
}
