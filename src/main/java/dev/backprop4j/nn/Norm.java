package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;

/**
 * The normalisation layer the model builders ({@link Mlp}, {@link ResMlp}) place: {@link LayerNorm}, {@link
 * BatchNorm1d} (both with PyTorch's defaults: eps 1e-5, affine; momentum 0.1) or none.
 */
public enum Norm {
    LAYER, BATCH, NONE;

    /** The layer over {@code width} features; null for {@link #NONE}. */
    Module module(int width, DType dtype, Device device) {
        return switch (this) {
            case LAYER -> new LayerNorm(width, 1e-5, true, dtype, device);
            case BATCH -> new BatchNorm1d(width, 1e-5, 0.1, dtype, device);
            case NONE -> null;
        };
    }
}
