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
    static final double SQRT1_2 = Math.sqrt(0.5);

    /**
     * (1 + tanh u) / 2 = 1 / (1 + e^(-2u)), from E = e^(-2|u|) as 1 / (1 + E) for u &gt;= 0 and E / (1 + E) below: the
     * tanh GELU's factor, without the cancellation of 1 + tanh u in the negative tail.
     */
    static double geluS(double u) {
        double e = Math.exp(-2 * Math.abs(u));
        return u >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
    static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    /**
     * erf x, within 2e-15 of it relatively: 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)) (Abramowitz and
     * Stegun 7.1.6, every term positive, so nothing cancels); +-1 from |x| = 6 on, where erfc x is below 2e-17.
     */
    static double erf(double x) {
        double a = Math.abs(x);
        if (!(a < 6)) {
            return Double.isNaN(x) ? x : Math.copySign(1, x);
        }
        double term = a;
        double sum = a;
        double twoSquared = 2 * a * a;
        for (int n = 1; term > sum * 1e-17; n++) {
            term *= twoSquared / (2 * n + 1);
            sum += term;
        }
        return Math.copySign(2 / Math.sqrt(Math.PI) * Math.exp(-a * a) * sum, x);
    }

    /**
     * erfc a for a &gt;= 0, within about 1e-15 of it relatively: 1 - erf a below 2 (where erfc a &gt;= 0.0046, so
     * little cancels), else e^(-a^2) / sqrt(pi) / f with f the continued fraction a + (1/2) / (a + 1 / (a + (3/2) /
     * (a + ...))) by Lentz's method.
     */
    static double erfc(double a) {
        if (!(a >= 2)) {
            return 1 - erf(a);
        }
        double f = a;
        double c = a;
        double d = 0;
        for (int n = 1; n < 1000; n++) {
            double k = n / 2.0;
            d = 1 / (a + k * d);
            c = a + k / c;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) {
                break;
            }
        }
        return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
    }

    /** Phi(x), the standard normal distribution: (1 + erf(x / sqrt 2)) / 2, from erfc below 0 (no cancellation). */
    static double normalCdf(double x) {
        return x >= 0 ? 0.5 * (1 + erf(x * SQRT1_2)) : 0.5 * erfc(-x * SQRT1_2);
    }

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
            case GELU -> x -> x * geluS(GELU_C * (x + 0.044715 * x * x * x));
            case SOFTPLUS -> x -> Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
            case GELU_ERF -> x -> x * normalCdf(x);
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
            case GELU -> (x, y, dy) -> { // d/dx x s(u) = s + 2 x u' E / (1 + E)^2, E = e^(-2|u|)
                double u = GELU_C * (x + 0.044715 * x * x * x);
                double e = Math.exp(-2 * Math.abs(u));
                double du = GELU_C * (1 + 3 * 0.044715 * x * x);
                return dy * (geluS(u) + 2 * x * du * e / ((1 + e) * (1 + e)));
            };
            case SOFTPLUS -> (x, y, dy) -> dy * sigmoid(x);
            case GELU_ERF -> (x, y, dy) -> dy * (normalCdf(x) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI);
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
