package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The input layer of a table's model: x [rows, numeric + categorical] as {@code data.TabularEncoding} encodes a
 * row (standardised numbers, then one code per categorical column) becomes [rows, numeric + the embeddings'
 * widths]: the numbers as they are, then each categorical column's code looked up in an {@link Embedding} of its
 * own, registered as "embeddings.0", "embeddings.1", ... (a PyTorch module with {@code self.embeddings =
 * nn.ModuleList(...)} has the same names).
 */
public final class TabularInput extends Module {
    private final int numeric;
    private final List<Embedding> embeddings = new ArrayList<>();

    /** Numeric columns, then the categorical ones' code counts and embedding widths. */
    public TabularInput(int numeric, int[] cardinalities, int[] widths, Generator gen, DType dtype, Device device) {
        if (numeric < 0 || cardinalities.length != widths.length || numeric + cardinalities.length == 0) {
            throw new IllegalArgumentException("TabularInput: " + numeric + " numeric columns and "
                    + cardinalities.length + " categorical ones with " + widths.length + " widths");
        }
        this.numeric = numeric;
        for (int c = 0; c < cardinalities.length; c++) {
            embeddings.add(new Embedding(cardinalities[c], widths[c], gen, dtype, device));
        }
        addModule("embeddings", new Sequential(embeddings.toArray(new Module[0])));
    }

    /**
     * The embedding width of a column of {@code cardinality} codes: fast.ai's rule min(32, round(1.6 n^0.56)), at
     * least 1.
     */
    public static int width(int cardinality) {
        return (int) Math.max(1, Math.min(32, Math.round(1.6 * Math.pow(cardinality, 0.56))));
    }

    /** The output's width: the numeric columns plus every embedding's. */
    public int outputWidth() {
        return numeric + embeddings.stream().mapToInt(Embedding::dim).sum();
    }

    @Override
    public Tensor forward(Tensor x) {
        int categorical = embeddings.size();
        if (x.rank() != 2 || x.dim(1) != numeric + categorical) {
            throw new IllegalArgumentException("TabularInput: input " + x.shape() + " is not [rows, " + numeric
                    + " numeric + " + categorical + " categorical columns]");
        }
        int rows = x.dim(0);
        List<Tensor> parts = new ArrayList<>();
        if (numeric > 0) {
            parts.add(categorical == 0 ? x : x.narrow(1, 0, numeric));
        }
        for (int c = 0; c < categorical; c++) {
            Tensor codes = x.narrow(1, numeric + c, 1).reshape(rows).to(DType.INT32);
            parts.add(embeddings.get(c).forward(codes));
        }
        return parts.size() == 1 ? parts.get(0) : Tensor.cat(parts, 1);
    }

    @Override
    public String toString() {
        return "TabularInput(" + numeric + " numeric, " + embeddings + ")";
    }
}
