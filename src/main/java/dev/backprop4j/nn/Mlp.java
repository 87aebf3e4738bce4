package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds a multi-layer perceptron as a {@link Sequential} of Linear layers with, after each hidden one, an optional
 * normalisation, the activation and optional dropout, and nothing after the last (the MLP baseline of Gorishniy et
 * al. 2021, "Revisiting Deep Learning Models for Tabular Data", with batch norm):
 * <pre>
 *   Linear(in -&gt; h1), [Norm(h1)], activation, [Dropout], Linear(h1 -&gt; h2), ..., Linear(hk -&gt; out)
 * </pre>
 * {@code Mlp.of(784, 256, 128, 10).activation(Activation.RELU).seed(42).build()}, or one activation per hidden
 * layer with {@code activations(Activation.RELU, Activation.TANH)}; {@code .norm(Norm.BATCH).dropout(0.1)}.
 * Linear layer i is at index i (2 + [norm] + [dropout]), i times the layers per hidden block, so parameter names
 * match PyTorch's nn.Sequential of the same modules: 2i plain, 3i with norm or dropout, 4i with both.
 */
public final class Mlp {
    private final int[] sizes;
    private Activation[] activations = {Activation.RELU};
    private Init init = Init.PYTORCH_DEFAULT;
    private double dropout;
    private Norm norm = Norm.NONE;
    private long seed = 0x5EED;
    private DType dtype = DType.FLOAT32;
    private Device device = Device.CPU;

    private Mlp(int[] sizes) {
        if (sizes.length < 2) {
            throw new IllegalArgumentException("Mlp: needs at least input and output sizes, got " + Arrays.toString(sizes));
        }
        this.sizes = sizes.clone();
    }

    /** Sizes from input to output, e.g. 784, 256, 128, 10. */
    public static Mlp of(int... sizes) {
        return new Mlp(sizes);
    }

    /** The same activation after every hidden layer (default ReLU). */
    public Mlp activation(Activation a) {
        this.activations = new Activation[] {a};
        return this;
    }

    /**
     * One activation per hidden layer, in order, e.g. {@code Mlp.of(784, 256, 128, 10).activations(RELU, TANH)}:
     * as many as there are hidden layers (sizes minus two).
     */
    public Mlp activations(Activation... perLayer) {
        if (perLayer.length != sizes.length - 2) {
            throw new IllegalArgumentException("Mlp: " + perLayer.length + " activations for " + (sizes.length - 2)
                    + " hidden layers of " + Arrays.toString(sizes));
        }
        this.activations = perLayer.clone();
        return this;
    }

    public Mlp init(Init i) {
        this.init = i;
        return this;
    }

    /** The normalisation between each hidden Linear and its activation (default {@link Norm#NONE}). */
    public Mlp norm(Norm n) {
        this.norm = n;
        return this;
    }

    /** Dropout probability after each hidden activation (0: none). */
    public Mlp dropout(double p) {
        this.dropout = p;
        return this;
    }

    public Mlp seed(long s) {
        this.seed = s;
        return this;
    }

    public Mlp dtype(DType d) {
        this.dtype = d;
        return this;
    }

    public Mlp device(Device d) {
        this.device = d;
        return this;
    }

    public Sequential build() {
        Generator gen = new Generator(seed);
        List<Module> layers = new ArrayList<>();
        for (int i = 0; i + 1 < sizes.length; i++) {
            layers.add(new Linear(sizes[i], sizes[i + 1], true, init, gen, dtype, device));
            if (i + 2 < sizes.length) {
                if (norm != Norm.NONE) {
                    layers.add(norm.module(sizes[i + 1], dtype, device));
                }
                layers.add(activations[activations.length == 1 ? 0 : i].module());
                if (dropout > 0) { // a generator of its own: each layer keeps its own counter on the device
                    layers.add(new Dropout(dropout, Generator.stream(seed, i + 1)));
                }
            }
        }
        return new Sequential(layers.toArray(new Module[0]));
    }
}
