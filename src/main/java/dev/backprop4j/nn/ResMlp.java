package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds a pre-norm residual MLP (Bachmann et al. 2023, "Scaling MLPs", with layer norm; the ResNet baseline of
 * Gorishniy et al. 2021, with batch norm) as a {@link Sequential}:
 * <pre>
 *   0            Linear(in -&gt; width)
 *   1 .. blocks  Residual(Sequential(Norm(width), Linear(width -&gt; expansion width), activation,
 *                                    [Dropout], Linear(expansion width -&gt; width)))
 *   blocks + 1   Norm(width)
 *   blocks + 2   Linear(width -&gt; classes)
 * </pre>
 * Norm is {@link LayerNorm} (the default), {@link BatchNorm1d}, or none (then the norms are left out and the
 * indices close up).
 * {@code ResMlp.of(784, 256, 4, 10).build()}: width 256, 4 blocks, expansion 4, GELU (tanh form), no dropout.
 * The parameter names ("1.body.0.weight" is the first block's norm, "1.body.1.weight" its first Linear) are those
 * of the same structure written with PyTorch's {@code nn.Sequential}, {@code nn.LayerNorm} and {@code nn.Linear}
 * and a residual module whose body is its attribute {@code body}, so safetensors files move both ways.
 */
public final class ResMlp {
    private final int in;
    private final int width;
    private final int blocks;
    private final int classes;
    private int expansion = 4;
    private Activation activation = Activation.GELU;
    private Norm norm = Norm.LAYER;
    private double dropout;
    private long seed = 0x5EED;
    private DType dtype = DType.FLOAT32;
    private Device device = Device.CPU;

    private ResMlp(int in, int width, int blocks, int classes) {
        if (in <= 0 || width <= 0 || blocks < 0 || classes <= 0) {
            throw new IllegalArgumentException("ResMlp: needs positive input, width and output sizes and blocks >= 0, "
                    + "got in=" + in + " width=" + width + " blocks=" + blocks + " classes=" + classes);
        }
        this.in = in;
        this.width = width;
        this.blocks = blocks;
        this.classes = classes;
    }

    /** in inputs, blocks residual blocks of the given width, classes outputs. */
    public static ResMlp of(int in, int width, int blocks, int classes) {
        return new ResMlp(in, width, blocks, classes);
    }

    /** The hidden width inside each block, as a multiple of the width (default 4). */
    public ResMlp expansion(int factor) {
        if (factor <= 0) {
            throw new IllegalArgumentException("ResMlp: expansion must be positive, got " + factor);
        }
        this.expansion = factor;
        return this;
    }

    /** The activation inside each block (default GELU). */
    public ResMlp activation(Activation a) {
        this.activation = a;
        return this;
    }

    /** The normalisation at the start of each block and before the head (default {@link Norm#LAYER}). */
    public ResMlp norm(Norm n) {
        this.norm = n;
        return this;
    }

    /** Dropout probability after each block's activation (0: none). */
    public ResMlp dropout(double p) {
        this.dropout = p;
        return this;
    }

    public ResMlp seed(long s) {
        this.seed = s;
        return this;
    }

    public ResMlp dtype(DType d) {
        this.dtype = d;
        return this;
    }

    public ResMlp device(Device d) {
        this.device = d;
        return this;
    }

    public Sequential build() {
        Generator gen = new Generator(seed);
        List<Module> layers = new ArrayList<>();
        layers.add(linear(in, width, gen));
        int hidden = Math.multiplyExact(width, expansion);
        for (int b = 0; b < blocks; b++) {
            List<Module> body = new ArrayList<>();
            if (norm != Norm.NONE) {
                body.add(normLayer());
            }
            body.add(linear(width, hidden, gen));
            body.add(activation.module());
            if (dropout > 0) {
                body.add(new Dropout(dropout, Generator.stream(seed, b + 1)));
            }
            body.add(linear(hidden, width, gen));
            layers.add(new Residual(new Sequential(body.toArray(new Module[0]))));
        }
        if (norm != Norm.NONE) {
            layers.add(normLayer());
        }
        layers.add(linear(width, classes, gen));
        return new Sequential(layers.toArray(new Module[0]));
    }

    private Module normLayer() {
        return norm.module(width, dtype, device);
    }

    private Linear linear(int from, int to, Generator gen) {
        return new Linear(from, to, true, Init.PYTORCH_DEFAULT, gen, dtype, device);
    }
}
