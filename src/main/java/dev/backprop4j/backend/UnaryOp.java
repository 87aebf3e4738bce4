package dev.backprop4j.backend;

/**
 * Elementwise functions y = f(x; p1, p2) of the backend contract, with their derivatives for
 * {@link Backend#unaryBackward}. The CPU backend ({@code CpuMath}) is the reference definition of each; the ops
 * {@code Activations} and {@code Elementary} are what tensors call, and the README's op table follows each to its
 * CPU method and CUDA kernel.
 */
public enum UnaryOp {
    /** y = -x; dx = -dy */
    NEG(Saves.NOTHING),
    /** y = e^x; dx = dy y */
    EXP(Saves.OUTPUT),
    /** y = ln x; dx = dy / x */
    LOG(Saves.INPUT),
    /** y = sqrt x; dx = dy / (2 y) */
    SQRT(Saves.OUTPUT),
    /** y = |x|; dx = dy sign(x) (0 at 0) */
    ABS(Saves.INPUT),
    /** y = x^p1; dx = dy p1 x^(p1 - 1) */
    POW(Saves.INPUT),
    /** y = x + p1; dx = dy */
    ADD_SCALAR(Saves.NOTHING),
    /** y = x p1; dx = dy p1 */
    MUL_SCALAR(Saves.NOTHING),
    /** y = p1 / x; dx = -dy p1 / x^2 */
    RDIV_SCALAR(Saves.INPUT),
    /** y = min(max(x, p1), p2); dx = dy inside [p1, p2], else 0 */
    CLAMP(Saves.INPUT),
    /** y = max(x, 0); dx = dy for x > 0, else 0 */
    RELU(Saves.INPUT),
    /** y = x for x > 0, else p1 x; dx = dy, else p1 dy */
    LEAKY_RELU(Saves.INPUT),
    /** y = 1 / (1 + e^-x); dx = dy y (1 - y) */
    SIGMOID(Saves.OUTPUT),
    /** y = tanh x; dx = dy (1 - y^2) */
    TANH(Saves.OUTPUT),
    /** y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh form of GELU; dx from x (CpuMath) */
    GELU(Saves.INPUT),
    /** y = ln(1 + e^x), computed stably; dx = dy sigmoid(x) */
    SOFTPLUS(Saves.INPUT),
    /**
     * y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), the exact GELU (PyTorch's default {@code GELU()}); dx = dy (Phi(x) +
     * x phi(x)), phi the standard normal density
     */
    GELU_ERF(Saves.INPUT);

    /** What the derivative reads besides the upstream gradient, so what the backward must keep from the forward. */
    public enum Saves {
        /** nothing: the derivative is a constant or a parameter */
        NOTHING,
        /** the forward input x */
        INPUT,
        /** the forward output y (cheaper than recomputing f(x)) */
        OUTPUT
    }

    private final Saves saves;

    UnaryOp(Saves saves) {
        this.saves = saves;
    }

    /** What {@link Backend#unaryBackward} reads: x, y, or neither. */
    public Saves saves() {
        return saves;
    }

    /** Whether the derivative reads the forward input x (so the backward must keep it). */
    public boolean derivativeNeedsInput() {
        return saves == Saves.INPUT;
    }

    /** Whether the derivative reads the forward output y (so the backward must keep it). */
    public boolean derivativeNeedsOutput() {
        return saves == Saves.OUTPUT;
    }

    /** The op's name in messages and graphs: "sigmoid", "leaky_relu". */
    public String opName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
