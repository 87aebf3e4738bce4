package dev.backprop4j.ops;

import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

import java.util.Arrays;

/** Axis arguments and unrecorded reductions over several axes, shared by {@link Sum} and {@link Max}. */
final class Axes {

    private Axes() {
    }

    /** Sorted, distinct, non-negative axes; fails naming op and shape on a bad axis. */
    static int[] normalize(String op, Shape shape, int[] axes) {
        int[] ax = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            ax[i] = shape.axis(axes[i], op);
        }
        Arrays.sort(ax);
        for (int i = 1; i < ax.length; i++) {
            if (ax[i] == ax[i - 1]) {
                throw new IllegalArgumentException(op + ": axis " + ax[i] + " given twice for shape " + shape);
            }
        }
        return ax;
    }

    /** The shape with each reduced axis set to 1. */
    static Shape keptShape(Shape shape, int[] axes) {
        Shape s = shape;
        for (int a : axes) {
            s = s.with(a, 1);
        }
        return s;
    }

    /** Reduces one axis at a time with the backend; not recorded. */
    static Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        Tensor cur = x;
        for (int a : axes) {
            Shape s = cur.shape();
            Tensor next = OpSupport.empty(s.with(a, 1), cur);
            x.backend().reduce(op, cur.buffer(), s.outer(a), s.dim(a), s.inner(a), next.buffer());
            if (cur != x) {
                cur.close();
            }
            cur = next;
        }
        if (axes.length == 0) {
            cur = x.copy();
        }
        if (!keepDim) {
            Shape s = cur.shape();
            for (int i = axes.length - 1; i >= 0; i--) {
                s = s.without(axes[i]);
            }
            Tensor view = cur.detach(s);
            cur.close();
            cur = view;
        }
        return cur;
    }
}
