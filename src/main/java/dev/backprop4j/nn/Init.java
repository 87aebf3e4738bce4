package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/** Weight initialisations for a layer with fanIn inputs and fanOut outputs. */
public enum Init {
    /**
     * PyTorch's nn.Linear default: kaiming_uniform with a = sqrt(5), i.e. W ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)),
     * and bias ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
     */
    PYTORCH_DEFAULT,
    /** He (Kaiming) normal for ReLU: W ~ N(0, 2/fanIn); bias 0. */
    HE,
    /** Xavier/Glorot uniform: W ~ U(-b, b), b = sqrt(6/(fanIn + fanOut)); bias 0. */
    XAVIER;

    /** A weight of the given shape, drawn from gen. */
    public Tensor weight(Generator gen, Shape shape, int fanIn, int fanOut, DType dtype, Device device) {
        return switch (this) {
            case PYTORCH_DEFAULT -> uniform(gen, shape, 1.0 / Math.sqrt(fanIn), dtype, device);
            case HE -> Tensor.randn(gen, shape, dtype, device).mul(Math.sqrt(2.0 / fanIn));
            case XAVIER -> uniform(gen, shape, Math.sqrt(6.0 / (fanIn + fanOut)), dtype, device);
        };
    }

    /** A bias of the given shape. */
    public Tensor bias(Generator gen, Shape shape, int fanIn, DType dtype, Device device) {
        return this == PYTORCH_DEFAULT
                ? uniform(gen, shape, 1.0 / Math.sqrt(fanIn), dtype, device)
                : Tensor.zeros(shape, dtype, device);
    }

    private static Tensor uniform(Generator gen, Shape shape, double bound, DType dtype, Device device) {
        return Tensor.random(gen, dev.backprop4j.core.Distribution.UNIFORM, -bound, bound, shape, dtype, device);
    }
}
