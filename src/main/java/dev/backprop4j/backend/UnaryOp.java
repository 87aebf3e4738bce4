package dev.backprop4j.backend;

/**
 * Elementwise functions y = f(x; p1, p2) of the backend contract, with their derivatives for
 * {@link Backend#unaryBackward}. The CPU backend ({@code CpuMath}) is the reference definition of each.
 */
public enum UnaryOp {
    /** y = -x */
    NEG(false, false),
    /** y = e^x; derivative y */
    EXP(false, true),
    /** y = ln x */
    LOG(true, false),
    /** y = sqrt x; derivative 1 / (2 y) */
    SQRT(false, true),
    /** y = |x|, derivative sign(x) (0 at 0) */
    ABS(true, false),
    /** y = x^p1 */
    POW(true, false),
    /** y = x + p1 */
    ADD_SCALAR(false, false),
    /** y = x * p1 */
    MUL_SCALAR(false, false),
    /** y = p1 / x */
    RDIV_SCALAR(true, false),
    /** y = min(max(x, p1), p2); derivative 1 inside [p1, p2], else 0 */
    CLAMP(true, false),
    /** y = max(x, 0); derivative 1 for x > 0 */
    RELU(true, false),
    /** y = x for x > 0, else p1 * x */
    LEAKY_RELU(true, false),
    /** y = 1 / (1 + e^-x); derivative y (1 - y) */
    SIGMOID(false, true),
    /** y = tanh x; derivative 1 - y^2 */
    TANH(false, true),
    /** y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh form of GELU */
    GELU(true, false),
    /** y = ln(1 + e^x), computed stably; derivative sigmoid(x) */
    SOFTPLUS(true, false);

    private final boolean needsInput;
    private final boolean needsOutput;

    UnaryOp(boolean needsInput, boolean needsOutput) {
        this.needsInput = needsInput;
        this.needsOutput = needsOutput;
    }

    /** Whether the derivative reads the forward input x (so the backward must keep it). */
    public boolean derivativeNeedsInput() {
        return needsInput;
    }

    /** Whether the derivative reads the forward output y (so the backward must keep it). */
    public boolean derivativeNeedsOutput() {
        return needsOutput;
    }

    public String opName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
