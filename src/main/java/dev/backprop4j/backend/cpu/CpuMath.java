package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.UnaryOp;

import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * The reference definition of every elementwise function and its derivative. The CUDA kernels in
 * kernels/elementwise.cu implement the same formulas; the parity tests hold them to these.
 */
final class CpuMath {

    /** The local gradient of a unary op: dx = dy * f'(x), given x, the forward output y and dy. */
    @FunctionalInterface
    public interface LocalGrad {
        double apply(double x, double y, double dy);
    }

    static final double GELU_C = Math.sqrt(2.0 / Math.PI);

    private CpuMath() {
    }

    public static DoubleUnaryOperator forward(UnaryOp op, double p1, double p2) {
        return switch (op) {
            case NEG -> x -> -x;
            case EXP -> Math::exp;
            case LOG -> Math::log;
            case SQRT -> Math::sqrt;
            case ABS -> Math::abs;
            case POW -> x -> Math.pow(x, p1);
            case ADD_SCALAR -> x -> x + p1;
            case MUL_SCALAR -> x -> x * p1;
            case RDIV_SCALAR -> x -> p1 / x;
            case CLAMP -> x -> Math.min(Math.max(x, p1), p2);
            case RELU -> x -> x > 0 ? x : 0.0;
            case LEAKY_RELU -> x -> x > 0 ? x : p1 * x;
            case SIGMOID -> CpuMath::sigmoid;
            case TANH -> Math::tanh;
            case GELU -> x -> 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
            case SOFTPLUS -> x -> Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
        };
    }

    public static LocalGrad derivative(UnaryOp op, double p1, double p2) {
        return switch (op) {
            case NEG -> (x, y, dy) -> -dy;
            case EXP -> (x, y, dy) -> dy * y;
            case LOG -> (x, y, dy) -> dy / x;
            case SQRT -> (x, y, dy) -> dy * 0.5 / y;
            case ABS -> (x, y, dy) -> dy * Math.signum(x);
            case POW -> (x, y, dy) -> p1 == 0 ? 0 : dy * p1 * Math.pow(x, p1 - 1); // x^0 is flat: 0, as PyTorch
            case ADD_SCALAR -> (x, y, dy) -> dy;
            case MUL_SCALAR -> (x, y, dy) -> dy * p1;
            case RDIV_SCALAR -> (x, y, dy) -> -dy * p1 / (x * x);
            case CLAMP -> (x, y, dy) -> x >= p1 && x <= p2 ? dy : 0.0;
            case RELU -> (x, y, dy) -> x > 0 ? dy : 0.0;
            case LEAKY_RELU -> (x, y, dy) -> x > 0 ? dy : p1 * dy;
            case SIGMOID -> (x, y, dy) -> dy * y * (1 - y);
            case TANH -> (x, y, dy) -> dy * (1 - y * y);
            case GELU -> (x, y, dy) -> {
                double u = GELU_C * (x + 0.044715 * x * x * x);
                double t = Math.tanh(u);
                double du = GELU_C * (1 + 3 * 0.044715 * x * x);
                return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du);
            };
            case SOFTPLUS -> (x, y, dy) -> dy * sigmoid(x);
        };
    }

    public static DoubleBinaryOperator binary(BinaryOp op) {
        return switch (op) {
            case ADD -> Double::sum;
            case SUB -> (a, b) -> a - b;
            case MUL -> (a, b) -> a * b;
            case DIV -> (a, b) -> a / b;
            case MAXIMUM -> Math::max;
            case EQ -> (a, b) -> a == b ? 1.0 : 0.0;
        };
    }

    static double sigmoid(double x) {
        if (x >= 0) {
            return 1.0 / (1.0 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1.0 + e);
    }

    // ---- the counter-based generator shared with kernels/random.cu --------------------------------

    /** SplitMix64 of counter i under seed: a 64-bit value that depends only on (seed, i). */
    public static long splitMix64(long seed, long i) {
        long z = seed + (i + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A uniform double in [0, 1) from the top 53 bits of counter i. */
    public static double uniform(long seed, long i) {
        return (splitMix64(seed, i) >>> 11) * 0x1.0p-53;
    }

    /**
     * A standard normal value for counter i: Box-Muller on the uniforms of counters 2*(i/2) and 2*(i/2)+1,
     * cos for even i and sin for odd i.
     */
    public static double normal(long seed, long i) {
        long pair = i & ~1L;
        double u1 = 1.0 - uniform(seed, pair); // (0, 1]: log stays finite
        double u2 = uniform(seed, pair + 1);
        double r = Math.sqrt(-2.0 * Math.log(u1));
        double theta = 2.0 * Math.PI * u2;
        return (i & 1L) == 0 ? r * Math.cos(theta) : r * Math.sin(theta);
    }
}
