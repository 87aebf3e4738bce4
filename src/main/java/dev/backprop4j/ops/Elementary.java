package dev.backprop4j.ops;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.tensor.Tensor;

/**
 * Elementary functions and arithmetic with a scalar, elementwise on any shape. Each is one {@link Pointwise} op:
 * forward through the backend primitive {@code unary}, backward one fused {@code unaryBackward} call keeping x or y
 * as the derivative needs ({@link UnaryOp.Saves}). Reference formulas: {@code CpuMath}; CUDA: {@code elementwise.cu}.
 * Derived forms need no rule of their own: x - s is x + (-s), x / s is x (1/s), s - x is (-x) + s.
 */
public final class Elementary {
    private Elementary() {
    }

    /** y = -x; dx = -dy. */
    public static Tensor neg(Tensor x) {
        return Pointwise.apply(UnaryOp.NEG, x, 0, 0);
    }

    /** y = x + s; dx = dy. */
    public static Tensor add(Tensor x, double s) {
        return Pointwise.apply(UnaryOp.ADD_SCALAR, x, s, 0);
    }

    /** y = s x; dx = s dy. */
    public static Tensor mul(Tensor x, double s) {
        return Pointwise.apply(UnaryOp.MUL_SCALAR, x, s, 0);
    }

    /** y = s / x; dx = -dy s / x^2 (keeps x). */
    public static Tensor rdiv(Tensor x, double s) {
        return Pointwise.apply(UnaryOp.RDIV_SCALAR, x, s, 0);
    }

    /** y = x^p; dx = dy p x^(p - 1) (keeps x). */
    public static Tensor pow(Tensor x, double p) {
        return Pointwise.apply(UnaryOp.POW, x, p, 0);
    }

    /** y = e^x; dx = dy y (keeps y). */
    public static Tensor exp(Tensor x) {
        return Pointwise.apply(UnaryOp.EXP, x, 0, 0);
    }

    /** y = ln x; dx = dy / x (keeps x). */
    public static Tensor log(Tensor x) {
        return Pointwise.apply(UnaryOp.LOG, x, 0, 0);
    }

    /** y = sqrt x; dx = dy / (2 y) (keeps y). */
    public static Tensor sqrt(Tensor x) {
        return Pointwise.apply(UnaryOp.SQRT, x, 0, 0);
    }

    /** y = |x|; dx = dy sign(x), 0 at 0 (keeps x). */
    public static Tensor abs(Tensor x) {
        return Pointwise.apply(UnaryOp.ABS, x, 0, 0);
    }

    /** y = min(max(x, min), max); dx = dy inside [min, max], else 0 (keeps x). */
    public static Tensor clamp(Tensor x, double min, double max) {
        if (min > max) {
            throw new IllegalArgumentException("clamp: min " + min + " > max " + max + " for " + x.describe());
        }
        return Pointwise.apply(UnaryOp.CLAMP, x, min, max);
    }
}
