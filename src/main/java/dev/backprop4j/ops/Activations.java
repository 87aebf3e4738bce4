package dev.backprop4j.ops;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.tensor.Tensor;

/**
 * The activation functions, elementwise on any shape. Each is one {@link Pointwise} op: the forward is the backend
 * primitive {@code unary}, the backward one fused {@code unaryBackward} call, dx = dy f'(x), keeping x or y as
 * the derivative needs ({@link UnaryOp.Saves}). Reference formulas: {@code CpuMath}; CUDA: {@code elementwise.cu}.
 */
public final class Activations {
    private Activations() {
    }

    /** y = max(x, 0); dx = dy where x > 0, else 0 (keeps x). */
    public static Tensor relu(Tensor x) {
        return Pointwise.apply(UnaryOp.RELU, x, 0, 0);
    }

    /** y = x where x > 0, else slope x; dx = dy, else slope dy (keeps x). */
    public static Tensor leakyRelu(Tensor x, double negativeSlope) {
        return Pointwise.apply(UnaryOp.LEAKY_RELU, x, negativeSlope, 0);
    }

    /** y = 1 / (1 + e^-x), computed without overflow; dx = dy y (1 - y) (keeps y). */
    public static Tensor sigmoid(Tensor x) {
        return Pointwise.apply(UnaryOp.SIGMOID, x, 0, 0);
    }

    /** y = tanh x; dx = dy (1 - y^2) (keeps y). */
    public static Tensor tanh(Tensor x) {
        return Pointwise.apply(UnaryOp.TANH, x, 0, 0);
    }

    /**
     * GELU, tanh form: y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
     * dx = dy (1/2 (1 + tanh u) + x/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 0.044715 x^2)) (keeps x).
     */
    public static Tensor gelu(Tensor x) {
        return Pointwise.apply(UnaryOp.GELU, x, 0, 0);
    }

    /**
     * GELU, exact: y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), PyTorch's {@code F.gelu(x)} (approximate="none");
     * dx = dy (Phi(x) + x e^(-x^2/2) / sqrt(2 pi)) (keeps x).
     */
    public static Tensor geluExact(Tensor x) {
        return Pointwise.apply(UnaryOp.GELU_ERF, x, 0, 0);
    }

    /** y = ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|); dx = dy sigmoid(x) (keeps x). */
    public static Tensor softplus(Tensor x) {
        return Pointwise.apply(UnaryOp.SOFTPLUS, x, 0, 0);
    }
}
