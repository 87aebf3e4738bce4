package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** Repeats x along its size-1 (or missing leading) dimensions up to target. Backward: g summed back to x's shape. */
public final class Expand {
    private Expand() {
    }

    public static Tensor apply(Tensor x, Shape target) {
        OpSupport.open("expand", x);
        Shape b = Shape.broadcast("expand", x.shape(), target);
        if (!b.equals(target)) {
            throw new IllegalArgumentException("expand: cannot expand " + x.shape() + " to " + target);
        }
        if (target.equals(x.shape())) {
            return Reshape.apply(x, target.dims());
        }
        Tensor out = OpSupport.empty(target, x);
        x.backend().broadcast(x.buffer(), x.shape(), out.buffer(), target);
        return Tape.record("expand", out, g -> new Tensor[]{OpSupport.sumTo(g, x.shape())}, x);
    }
}
