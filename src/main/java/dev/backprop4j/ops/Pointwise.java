package dev.backprop4j.ops;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * The mechanism behind every elementwise function y = f(x; p1, p2) of {@link UnaryOp} ({@link Activations},
 * {@link Elementary}): forward, one backend {@code unary} call; backward, dx = g f'(x), one fused
 * {@code unaryBackward} call. The op keeps x or y only when f' reads it ({@link UnaryOp#saves()}: sigmoid, tanh,
 * exp and sqrt keep their output). The formulas of f and f' stand side by side in the CPU backend's CpuMath.
 */
public final class Pointwise {
    private Pointwise() {
    }

    public static Tensor apply(UnaryOp op, Tensor x, double p1, double p2) {
        String name = op.opName();
        OpSupport.floating(name, x);
        Tensor y = OpSupport.empty(x.shape(), x);
        x.backend().unary(op, x.buffer(), y.buffer(), p1, p2);
        Tensor savedX = op.derivativeNeedsInput() ? x : null;
        boolean keepY = op.derivativeNeedsOutput();
        return Tape.record(name, y, g -> {
            Tensor dx = OpSupport.empty(g.shape(), g);
            g.backend().unaryBackward(op, savedX == null ? null : savedX.buffer(), keepY ? y.buffer() : null,
                    g.buffer(), dx.buffer(), p1, p2);
            return new Tensor[]{dx};
        }, x);
    }

    /**
     * out = f(x; p1, p2) into a given tensor, unrecorded: the backend primitive alone, as benchmarks of the kernels
     * time it (x and out of one shape, dtype and device; out may be x).
     */
    public static void into(UnaryOp op, Tensor x, Tensor out, double p1, double p2) {
        OpSupport.floating(op.opName(), x);
        OpSupport.compatible(op.opName(), x, out);
        requireSameShape(op, x, out);
        x.backend().unary(op, x.buffer(), out.buffer(), p1, p2);
    }

    /** dx = dy f'(x) into a given tensor, unrecorded: the backward primitive alone (x or y as f' reads them). */
    public static void gradientInto(UnaryOp op, Tensor x, Tensor y, Tensor dy, Tensor dx, double p1, double p2) {
        OpSupport.compatible(op.opName(), dy, dx);
        requireSameShape(op, dy, dx);
        dy.backend().unaryBackward(op, x == null ? null : x.buffer(), y == null ? null : y.buffer(), dy.buffer(),
                dx.buffer(), p1, p2);
    }

    private static void requireSameShape(UnaryOp op, Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException(op.opName() + ": " + a.describe() + " and " + b.describe()
                    + " must have one shape");
        }
    }
}
