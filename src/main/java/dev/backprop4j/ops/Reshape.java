package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Same data under a new shape: a new tensor sharing the buffer (always, even for the same shape, so closing it never
 * closes x); one dimension may be -1. Backward: dx = g reshaped back.
 */
public final class Reshape {
    private Reshape() {
    }

    public static Tensor apply(Tensor x, int... dims) {
        OpSupport.open("reshape", x);
        Shape shape = resolve(x.shape(), dims);
        Tensor out = x.detach(shape);
        return Tape.record("reshape", out, g -> new Tensor[]{g.reshape(x.shape().dims())}, x);
    }

    private static Shape resolve(Shape from, int[] dims) {
        int infer = -1;
        long known = 1;
        int[] d = dims.clone();
        for (int i = 0; i < d.length; i++) {
            if (d[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape: more than one -1 in " + java.util.Arrays.toString(dims));
                }
                infer = i;
            } else if (d[i] < 0) {
                throw new IllegalArgumentException("reshape: negative size in " + java.util.Arrays.toString(dims));
            } else {
                known *= d[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || from.size() % known != 0) {
                throw new IllegalArgumentException("reshape: cannot reshape " + from + " into "
                        + java.util.Arrays.toString(dims));
            }
            d[infer] = (int) (from.size() / known);
        }
        Shape s = Shape.of(d);
        if (s.size() != from.size()) {
            throw new IllegalArgumentException("reshape: cannot reshape " + from + " (" + from.size()
                    + " elements) into " + s + " (" + s.size() + " elements)");
        }
        return s;
    }
}
