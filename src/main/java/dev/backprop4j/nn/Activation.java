package dev.backprop4j.nn;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.tensor.Tensor;

import java.util.Locale;

/**
 * Elementwise activations, usable as functions ({@link #apply}) or as layers ({@link #module}): ReLU, leaky ReLU
 * (slope {@link #LEAKY_SLOPE}), sigmoid, tanh, GELU in its tanh form (PyTorch's {@code GELU(approximate="tanh")}:
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))), GELU_EXACT (PyTorch's default {@code GELU()}: x/2 (1 + erf(x /
 * sqrt 2))), and identity.
 */
public enum Activation {
    RELU, LEAKY_RELU, SIGMOID, TANH, GELU, GELU_EXACT, IDENTITY;

    /** Slope of LEAKY_RELU for x < 0 (PyTorch's default). */
    public static final double LEAKY_SLOPE = 0.01;

    public Tensor apply(Tensor x) {
        return switch (this) {
            case RELU -> x.relu();
            case LEAKY_RELU -> x.leakyRelu(LEAKY_SLOPE);
            case SIGMOID -> x.sigmoid();
            case TANH -> x.tanh();
            case GELU -> x.gelu();
            case GELU_EXACT -> x.geluExact();
            case IDENTITY -> x;
        };
    }

    /** This activation as a layer without parameters. */
    public Module module() {
        return new Layer(this);
    }

    /**
     * The backend's elementwise op of this activation and its parameter, for the fused dense layer
     * ({@link dev.backprop4j.ops.Dense}); null for IDENTITY.
     */
    UnaryOp unaryOp() {
        return switch (this) {
            case RELU -> UnaryOp.RELU;
            case LEAKY_RELU -> UnaryOp.LEAKY_RELU;
            case SIGMOID -> UnaryOp.SIGMOID;
            case TANH -> UnaryOp.TANH;
            case GELU -> UnaryOp.GELU;
            case GELU_EXACT -> UnaryOp.GELU_ERF;
            case IDENTITY -> null;
        };
    }

    /** The parameter of {@link #unaryOp()}: LEAKY_RELU's slope, else 0. */
    double unaryParameter() {
        return this == LEAKY_RELU ? LEAKY_SLOPE : 0;
    }

    /** An activation as a layer; {@link Sequential} fuses it into the {@link Linear} before it. */
    static final class Layer extends Module {
        final Activation kind;

        Layer(Activation kind) {
            this.kind = kind;
        }

        @Override
        public Tensor forward(Tensor x) {
            return kind.apply(x);
        }

        @Override
        public String toString() {
            return kind.label();
        }
    }

    /** "relu", "leaky_relu", ... as on the command line. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Activation parse(String text) {
        for (Activation a : values()) {
            if (a.label().equalsIgnoreCase(text.replace('-', '_'))) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown activation '" + text
                + "' (expected relu, leaky_relu, sigmoid, tanh, gelu, gelu_exact or identity)");
    }
}
