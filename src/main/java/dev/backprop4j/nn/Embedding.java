package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/**
 * PyTorch's {@code nn.Embedding(num, dim)}: a table "weight" [num, dim], initialised N(0, 1) from a seeded generator
 * as PyTorch does, whose forward maps int32 indices of any shape to their rows, [indices..., dim] (one
 * {@link dev.backprop4j.ops.Embedding} op; its backward is deterministic on every backend).
 */
public final class Embedding extends Module {
    private final int num;
    private final int dim;

    public Embedding(int num, int dim, Generator gen, DType dtype, Device device) {
        if (num <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding: sizes must be positive, got num=" + num + " dim=" + dim);
        }
        this.num = num;
        this.dim = dim;
        addParameter("weight", Tensor.random(gen, Distribution.NORMAL, 0, 1, Shape.of(num, dim), dtype, device));
    }

    public Tensor weight() {
        return namedParameters().get("weight");
    }

    public int size() {
        return num;
    }

    public int dim() {
        return dim;
    }

    @Override
    public Tensor forward(Tensor index) {
        return dev.backprop4j.ops.Embedding.apply(weight(), index);
    }

    @Override
    public String toString() {
        return "Embedding(" + num + ", " + dim + ")";
    }
}
