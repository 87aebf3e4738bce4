package dev.backprop4j.nn;

import dev.backprop4j.ops.Dense;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/**
 * y = x W^T + b for x [batch, in]: weight W is [out, in] and bias b is [out], PyTorch's layout, so a
 * state dict moves between the two unchanged. Initialised by {@link Init} from a seeded generator.
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

    @Override
    public String toString() {
        return "Linear(" + in + " -> " + out + (bias() == null ? ", no bias" : "") + ")";
    }
}
