package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.ops.Dense;
import dev.backprop4j.tensor.Tensor;

/**
 * y = x W^T + b for x [batch, in]: weight W is [out, in] and bias b is [out], PyTorch's layout, so a
 * state dict moves between the two unchanged. Initialised by {@link Init} from a seeded generator, or built from
 * given tensors with {@link #of(Tensor, Tensor)}. The forward is one {@link Dense} op.
 */
public final class Linear extends Module {
    private final int in;
    private final int out;

    public Linear(int in, int out) {
        this(in, out, true, Init.PYTORCH_DEFAULT, Generator.global(), DType.FLOAT32, Device.CPU);
    }

    public Linear(int in, int out, boolean bias, Init init, Generator gen, DType dtype, Device device) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + in + " out=" + out);
        }
        this.in = in;
        this.out = out;
        addParameter("weight", init.weight(gen, Shape.of(out, in), in, out, dtype, device));
        if (bias) {
            addParameter("bias", init.bias(gen, Shape.of(out), in, dtype, device));
        }
    }

    /**
     * A layer holding the given parameters, PyTorch-shaped: weight [out, in] and bias [out] (or null for none), of
     * one floating dtype on one device. The layer owns them from here on (they leave any Scope and close with it).
     */
    public static Linear of(Tensor weight, Tensor bias) {
        if (weight.rank() != 2 || !weight.dtype().isFloating()) {
            throw new IllegalArgumentException("Linear.of: weight must be a floating [out, in] matrix, got "
                    + weight.describe());
        }
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != weight.dim(0) || bias.dtype() != weight.dtype()
                || !bias.device().equals(weight.device()))) {
            throw new IllegalArgumentException("Linear.of: bias " + bias.describe() + " does not fit weight "
                    + weight.describe() + " (expected [" + weight.dim(0) + "] " + weight.dtype() + " "
                    + weight.device() + ")");
        }
        return new Linear(weight, bias);
    }

    private Linear(Tensor weight, Tensor bias) {
        this.in = weight.dim(1);
        this.out = weight.dim(0);
        addParameter("weight", weight);
        if (bias != null) {
            addParameter("bias", bias);
        }
    }

    public Tensor weight() {
        return namedParameters().get("weight");
    }

    /** The bias, or null. */
    public Tensor bias() {
        return namedParameters().get("bias");
    }

    public int inFeatures() {
        return in;
    }

    public int outFeatures() {
        return out;
    }

    @Override
    public Tensor forward(Tensor x) {
        return Dense.apply(x, weight(), bias());
    }

    /**
     * This layer followed by {@code activation}, as one fused op (what {@link Sequential} runs); with {@code
     * halfOutput} (a Linear follows) its output is bfloat16 under bf16 autocast ({@link Dense}).
     */
    Tensor forward(Tensor x, Activation activation, boolean halfOutput) {
        return Dense.apply(x, weight(), bias(), activation.unaryOp(), activation.unaryParameter(), halfOutput);
    }

    /** This layer's output plus {@code residual} (its shape), the add in the layer's epilogue. */
    Tensor forwardPlus(Tensor x, Tensor residual) {
        return Dense.withResidual(x, weight(), bias(), residual);
    }

    @Override
    public String toString() {
        return "Linear(" + in + " -> " + out + (bias() == null ? ", no bias" : "") + ")";
    }
}
