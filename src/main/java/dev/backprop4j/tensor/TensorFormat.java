package dev.backprop4j.tensor;

import java.util.Locale;

/** Prints tensor values as nested brackets, eliding the middle of dimensions longer than 6. */
final class TensorFormat {
    private static final int EDGE = 3;

    private TensorFormat() {
    }

    /** Values {@code v} of a tensor of shape {@code dims}, as integers when {@code ints}. */
    static String values(double[] v, int[] dims, boolean ints) {
        StringBuilder sb = new StringBuilder();
        append(sb, v, dims, 0, 0, ints);
        return sb.toString();
    }

    private static void append(StringBuilder sb, double[] v, int[] dims, int axis, int offset, boolean ints) {
        if (axis == dims.length) {
            sb.append(ints ? String.valueOf((long) v[offset]) : String.format(Locale.ROOT, "%.4g", v[offset]));
            return;
        }
        int n = dims[axis];
        int stride = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            stride *= dims[i];
        }
        sb.append('[');
        for (int i = 0; i < n; i++) {
            if (n > 2 * EDGE && i == EDGE) {
                sb.append("...");
                i = n - EDGE - 1;
                sb.append(axis == dims.length - 1 ? ", " : ",\n");
                continue;
            }
            append(sb, v, dims, axis + 1, offset + i * stride, ints);
            if (i < n - 1) {
                sb.append(axis == dims.length - 1 ? ", " : ",\n");
            }
        }
        sb.append(']');
    }
}
