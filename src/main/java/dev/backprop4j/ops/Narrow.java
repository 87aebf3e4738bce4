package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** The entries [start, start+length) along an axis (a copy). Backward: dx = zeros with g written at those entries. */
public final class Narrow {
    private Narrow() {
    }

    public static Tensor apply(Tensor x, int axis, int start, int length) {
        OpSupport.open("narrow", x);
        Shape s = x.shape();
        int a = s.axis(axis, "narrow");
        int dim = s.dim(a);
        if (start < 0 || length < 0 || start + length > dim) {
            throw new IllegalArgumentException("narrow: range [" + start + ", " + (start + length)
                    + ") is outside axis " + a + " of shape " + s + " (size " + dim + ")");
        }
        int outer = s.outer(a);
        int inner = s.inner(a);
        Tensor out = OpSupport.empty(s.with(a, length), x);
        x.backend().narrow(x.buffer(), outer, dim, inner, start, out.buffer(), length, 0, length);
        return Tape.record("narrow", out, g -> {
            Tensor dx = Tensor.zeros(s, g.dtype(), g.device());
            g.backend().narrow(g.buffer(), outer, length, inner, 0, dx.buffer(), dim, start, length);
            return new Tensor[]{dx};
        }, x);
    }
}
