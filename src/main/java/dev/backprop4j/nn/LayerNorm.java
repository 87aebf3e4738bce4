package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/**
 * PyTorch's {@code nn.LayerNorm(features, eps, elementwise_affine)}: each row of x [..., features] normalised to
 * mean 0 and variance 1 (the biased variance, plus eps), then scaled by weight and shifted by bias, both [features]
 * (initialised to ones and zeros, named "weight" and "bias" as in PyTorch's state dict; none without the affine
 * part). The forward is one {@link dev.backprop4j.ops.LayerNorm} op.
 */
public final class LayerNorm extends Module {
    private final int features;
    private final double eps;

    /** Affine, eps 1e-5, float32 on the CPU. */
    public LayerNorm(int features) {
        this(features, 1e-5, true, DType.FLOAT32, Device.CPU);
    }

    public LayerNorm(int features, double eps, boolean affine, DType dtype, Device device) {
        if (features <= 0) {
            throw new IllegalArgumentException("LayerNorm: features must be positive, got " + features);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("LayerNorm: eps must be > 0, got " + eps);
        }
        this.features = features;
        this.eps = eps;
        if (affine) {
            addParameter("weight", Tensor.ones(Shape.of(features), dtype, device));
            addParameter("bias", Tensor.zeros(Shape.of(features), dtype, device));
        }
    }

    /** The scale, or null without the affine part. */
    public Tensor weight() {
        return namedParameters().get("weight");
    }

    /** The shift, or null without the affine part. */
    public Tensor bias() {
        return namedParameters().get("bias");
    }

    @Override
    public Tensor forward(Tensor x) {
        return dev.backprop4j.ops.LayerNorm.apply(x, weight(), bias(), eps);
    }

    @Override
    public String toString() {
        return "LayerNorm(" + features + (weight() == null ? ", no affine" : "") + ")";
    }
}
