package dev.backprop4j.train;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.data.TabularEncoding;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.Norm;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Module;
import dev.backprop4j.nn.ResMlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.nn.TabularInput;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The model a run trains, but for its input width and classes (the data's): a plain MLP of hidden widths
 * ({@link Mlp}; optionally a norm after each hidden Linear), or a pre-norm residual MLP ({@link ResMlp}) of blocks of
 * one width, each widening it by an expansion factor inside, with layer norm, batch norm or none; either with
 * dropout after its hidden activations, and for a table the {@link TabularInput} in front. Immutable.
 */
public final class Architecture implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The two model families. */
    public enum Kind { MLP, RESMLP }

    private final Kind kind;
    private final int[] hidden;
    private final int blocks;
    private final int expansion;
    private final Norm norm;
    private final double dropout;
    /** A table's encoding, whose {@link TabularInput} comes first (null: none). */
    private final TabularEncoding tabular;

    private Architecture(Kind kind, int[] hidden, int blocks, int expansion, Norm norm, double dropout,
                         TabularEncoding tabular) {
        this.kind = kind;
        this.hidden = hidden.clone();
        this.blocks = blocks;
        this.expansion = expansion;
        this.norm = norm;
        this.dropout = dropout;
        this.tabular = tabular;
    }

    /** A plain MLP with these hidden widths (none: a linear model). */
    public static Architecture mlp(int... hidden) {
        for (int h : hidden) {
            require(h > 0, "--layers must be positive sizes, got " + Arrays.toString(hidden));
        }
        return new Architecture(Kind.MLP, hidden, 0, 0, Norm.NONE, 0, null);
    }

    /** A residual MLP of {@code blocks} blocks of {@code width}, widened {@code expansion} times inside each. */
    public static Architecture resMlp(int width, int blocks, int expansion, Norm norm) {
        require(width > 0, "--width must be at least 1, got " + width);
        require(blocks >= 1, "--blocks must be at least 1, got " + blocks);
        require(expansion >= 1, "--expansion must be at least 1, got " + expansion);
        return new Architecture(Kind.RESMLP, new int[] {width}, blocks, expansion, norm, 0, null);
    }

    /** Positive sizes separated by commas: "256,128"; nothing else (no empty entries, signs or spaces inside). */
    public static int[] parseSizes(String text, String what) {
        String[] parts = text.split(",", -1);
        int[] s = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].trim();
            s[i] = p.matches("[0-9]{1,9}") ? Integer.parseInt(p) : -1;
            if (s[i] <= 0) {
                throw new IllegalArgumentException(what + ": '" + text + "' is not a list of positive sizes like "
                        + "256,128");
            }
        }
        return s;
    }

    private static void require(boolean valid, String message) {
        if (!valid) {
            throw new IllegalArgumentException(message);
        }
    }

    public Kind kind() {
        return kind;
    }

    /** The hidden widths of an MLP; a residual MLP's one width. */
    public int[] hidden() {
        return hidden.clone();
    }

    /** A residual MLP's blocks (0 for an MLP). */
    public int blocks() {
        return blocks;
    }

    /** A residual MLP's widening inside a block (0 for an MLP). */
    public int expansion() {
        return expansion;
    }

    /** The normalisation: a residual MLP's at the start of each block, an MLP's after each hidden Linear. */
    public Norm norm() {
        return norm;
    }

    /** This MLP with {@code n} after each hidden Linear (a residual MLP's norm is given to {@link #resMlp}). */
    public Architecture withNorm(Norm n) {
        require(kind == Kind.MLP || n == norm, "--norm of a resmlp is given with its blocks");
        return new Architecture(kind, hidden, blocks, expansion, n, dropout, tabular);
    }

    /** The dropout probability after each hidden activation (0: none). */
    public double dropout() {
        return dropout;
    }

    /** This architecture with dropout {@code p} after each hidden activation. */
    public Architecture withDropout(double p) {
        require(p >= 0 && p < 1, "--dropout must be in [0, 1), got " + p);
        return new Architecture(kind, hidden, blocks, expansion, norm, p, tabular);
    }

    /**
     * This architecture after the {@link TabularInput} of {@code encoding}: the model of a table, whose rows come
     * encoded as the encoding says.
     */
    public Architecture withTabular(TabularEncoding encoding) {
        return new Architecture(kind, hidden, blocks, expansion, norm, dropout, encoding);
    }

    /** The table encoding the model's input layer embeds, or null (no input layer). */
    public TabularEncoding tabular() {
        return tabular;
    }

    /** The model, initialised from {@code seed}, on {@code device}. */
    Sequential build(int inputs, int classes, Activation activation, long seed, Device device) {
        TabularInput input = tabular == null ? null : new TabularInput(tabular.numericCount(),
                tabular.cardinalities(), widths(), Generator.stream(seed, -1), DType.FLOAT32, device);
        int in = input == null ? inputs : input.outputWidth();
        Sequential body = kind == Kind.MLP
                ? Mlp.of(sizes(in, classes)).activation(activation).norm(norm).dropout(dropout).seed(seed)
                        .device(device).build()
                : ResMlp.of(in, hidden[0], blocks, classes).expansion(expansion).activation(activation).norm(norm)
                        .dropout(dropout).seed(seed).device(device).build();
        if (input == null) {
            return body;
        }
        List<Module> layers = new ArrayList<>(body.layers());
        layers.add(0, input);
        return new Sequential(layers.toArray(new Module[0]));
    }

    /** The embedding widths of the table's categorical columns. */
    private int[] widths() {
        return Arrays.stream(tabular.cardinalities()).map(TabularInput::width).toArray();
    }

    /** Input width, the hidden widths (a residual MLP's one width), classes. */
    int[] sizes(int inputs, int classes) {
        int[] s = new int[hidden.length + 2];
        s[0] = inputs;
        System.arraycopy(hidden, 0, s, 1, hidden.length);
        s[s.length - 1] = classes;
        return s;
    }

    /** The model's parameters (its state dict but for the buffers). */
    long parameterCount(int inputs, int classes) {
        long n = 0;
        for (Map.Entry<String, Checkpoint.Expected> e : stateShapes(inputs, classes).entrySet()) {
            n = isBuffer(e.getKey()) ? n : Math.addExact(n, e.getValue().shape().size());
        }
        return n;
    }

    /**
     * Every tensor of the model's state dict, as {@link #build} makes them (PyTorch's names): the parameters, float32,
     * and with batch norm its buffers (running statistics, float32; num_batches_tracked, an int32 scalar).
     */
    Map<String, Checkpoint.Expected> stateShapes(int inputs, int classes) {
        if (tabular == null) {
            return bodyShapes(inputs, classes);
        }
        Map<String, Checkpoint.Expected> m = new LinkedHashMap<>();
        int[] cards = tabular.cardinalities();
        int[] widths = widths();
        int in = tabular.numericCount();
        for (int c = 0; c < cards.length; c++) {
            m.put("0.embeddings." + c + ".weight", new Checkpoint.Expected(Shape.of(cards[c], widths[c]),
                    DType.FLOAT32));
            in += widths[c];
        }
        bodyShapes(in, classes).forEach((name, e) -> { // the body's layers come one index later
            int dot = name.indexOf('.');
            m.put((Integer.parseInt(name.substring(0, dot)) + 1) + name.substring(dot), e);
        });
        return m;
    }

    private Map<String, Checkpoint.Expected> bodyShapes(int inputs, int classes) {
        Map<String, Checkpoint.Expected> m = new LinkedHashMap<>();
        boolean normed = norm != Norm.NONE;
        int dropped = dropout > 0 ? 1 : 0;
        if (kind == Kind.MLP) {
            int[] s = sizes(inputs, classes);
            int stride = 2 + (normed ? 1 : 0) + dropped;
            for (int i = 0; i + 1 < s.length; i++) {
                linear(m, stride * i + ".", s[i], s[i + 1]);
                if (normed && i + 2 < s.length) {
                    norm(m, stride * i + 1 + ".", s[i + 1]);
                }
            }
            return m;
        }
        int width = hidden[0];
        linear(m, "0.", inputs, width);
        for (int b = 1; b <= blocks; b++) {
            String body = b + ".body.";
            int at = 0;
            if (normed) {
                norm(m, body + at++ + ".", width);
            }
            linear(m, body + at + ".", width, width * expansion);
            linear(m, body + (at + 2 + dropped) + ".", width * expansion, width);
        }
        if (normed) {
            norm(m, blocks + 1 + ".", width);
        }
        linear(m, (blocks + (normed ? 2 : 1)) + ".", width, classes);
        return m;
    }

    private static void linear(Map<String, Checkpoint.Expected> m, String prefix, int in, int out) {
        m.put(prefix + "weight", new Checkpoint.Expected(Shape.of(out, in), DType.FLOAT32));
        m.put(prefix + "bias", new Checkpoint.Expected(Shape.of(out), DType.FLOAT32));
    }

    private void norm(Map<String, Checkpoint.Expected> m, String prefix, int width) {
        m.put(prefix + "weight", new Checkpoint.Expected(Shape.of(width), DType.FLOAT32));
        m.put(prefix + "bias", new Checkpoint.Expected(Shape.of(width), DType.FLOAT32));
        if (norm == Norm.BATCH) {
            m.put(prefix + "running_mean", new Checkpoint.Expected(Shape.of(width), DType.FLOAT32));
            m.put(prefix + "running_var", new Checkpoint.Expected(Shape.of(width), DType.FLOAT32));
            m.put(prefix + "num_batches_tracked", new Checkpoint.Expected(Shape.scalar(), DType.INT32));
        }
    }

    /** Whether a state dict entry is a buffer (not trained, not counted among the parameters). */
    static boolean isBuffer(String name) {
        return name.endsWith(".running_mean") || name.endsWith(".running_var")
                || name.endsWith(".num_batches_tracked");
    }

    /** The widths of the outputs a forward keeps for the backward, summed: a row's share of the activations. */
    long activationWidths(int inputs, int classes) {
        if (kind == Kind.MLP) { // a norm splits Linear from its activation: three outputs kept, not one; dropout a mask
            long hiddenSum = Arrays.stream(hidden).asLongStream().sum();
            return Arrays.stream(sizes(inputs, classes)).asLongStream().sum()
                    + (norm != Norm.NONE ? 2 * hiddenSum : 0) + (dropout > 0 ? hiddenSum : 0);
        }
        long perBlock = (norm != Norm.NONE ? 2L : 1L) * hidden[0] + 2L * hidden[0] * expansion + hidden[0];
        return inputs + hidden[0] + blocks * perBlock + classes;
    }

    /** "784-256-128-10", or for a residual MLP "784-256x16-10" (16 blocks of width 256). */
    String text(int inputs, int classes) {
        if (kind == Kind.MLP) {
            return Arrays.stream(sizes(inputs, classes)).mapToObj(Integer::toString).collect(Collectors.joining("-"));
        }
        return inputs + "-" + hidden[0] + "x" + blocks + "-" + classes;
    }

    /** The options that name it, by command-line name. */
    Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("model", kind.name().toLowerCase(java.util.Locale.ROOT));
        o.put("layers", Arrays.stream(hidden).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        if (kind == Kind.RESMLP) {
            o.put("blocks", Integer.toString(blocks));
            o.put("expansion", Integer.toString(expansion));
        }
        o.put("norm", norm.name().toLowerCase(java.util.Locale.ROOT));
        o.put("dropout", Double.toString(dropout));
        return o;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Architecture a && options().equals(a.options())
                && Objects.equals(tabular, a.tabular);
    }

    @Override
    public int hashCode() {
        return options().hashCode();
    }

    @Override
    public String toString() {
        return options().toString();
    }
}
