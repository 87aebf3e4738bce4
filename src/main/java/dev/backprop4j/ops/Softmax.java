package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * softmax(x)_j = e^{x_j} / sum_k e^{x_k} along an axis (max-shifted, so large inputs stay finite), and
 * log_softmax = x - logsumexp(x). Both keep their output y for the backward:
 * softmax dx = y (g - sum(g y)); log_softmax dx = g - e^y sum(g).
 */
public final class Softmax {
    private Softmax() {
    }

    public static Tensor apply(Tensor x, int axis, boolean log) {
        String name = log ? "log_softmax" : "softmax";
        OpSupport.floating(name, x);
        Shape s = x.shape();
        int a = s.axis(axis, name);
        int outer = s.outer(a);
        int n = s.dim(a);
        int inner = s.inner(a);
        Tensor y = OpSupport.empty(s, x);
        x.backend().softmax(x.buffer(), outer, n, inner, log, y.buffer());
        return Tape.record(name, y, g -> {
            Tensor dx = OpSupport.empty(s, g);
            g.backend().softmaxBackward(y.buffer(), g.buffer(), outer, n, inner, log, dx.buffer());
            return new Tensor[]{dx};
        }, x);
    }
}
