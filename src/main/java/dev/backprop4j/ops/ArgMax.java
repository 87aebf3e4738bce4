package dev.backprop4j.ops;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/** Index of the first largest entry along an axis, as int32; not differentiable. */
public final class ArgMax {
    private ArgMax() {
    }

    public static Tensor apply(Tensor x, int axis) {
        OpSupport.floating("argmax", x);
        Shape s = x.shape();
        int a = s.axis(axis, "argmax");
        if (s.dim(a) == 0) {
            throw new IllegalArgumentException("argmax: axis " + a + " of shape " + s + " is empty");
        }
        Tensor out = OpSupport.emptyOf(s.without(a), DType.INT32, x);
        x.backend().argmax(x.buffer(), s.outer(a), s.dim(a), s.inner(a), out.buffer());
        return out;
    }
}
