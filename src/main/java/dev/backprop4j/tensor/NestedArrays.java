package dev.backprop4j.tensor;

import dev.backprop4j.core.Shape;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;

/** Rectangular nested {@code float[]...[]} or {@code double[]...[]} arrays flattened row-major, for {@link Tensor#fromNested}. */
final class NestedArrays {

    /** The values, the dimensions, and whether the leaves were float (else double). */
    record Flat(double[] values, int[] dims, boolean isFloat) {
    }

    private NestedArrays() {
    }

    static Flat flatten(Object array) {
        List<Integer> dims = new ArrayList<>();
        Object level = array;
        while (level != null && level.getClass().isArray()) {
            int len = Array.getLength(level);
            dims.add(len);
            if (level instanceof float[] || level instanceof double[] || len == 0) {
                break;
            }
            level = Array.get(level, 0);
        }
        boolean isFloat = level instanceof float[];
        if (!isFloat && !(level instanceof double[])) {
            throw new IllegalArgumentException("fromNested: expected nested float[] or double[] arrays, got "
                    + (array == null ? "null" : array.getClass().getSimpleName()));
        }
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        double[] flat = new double[(int) Shape.of(shape).size()];
        fill(array, shape, 0, flat, new int[]{0}, "");
        return new Flat(flat, shape, isFloat);
    }

    private static void fill(Object level, int[] shape, int depth, double[] out, int[] pos, String path) {
        int len = Array.getLength(level);
        if (len != shape[depth]) {
            throw new IllegalArgumentException("fromNested: element " + (path.isEmpty() ? "[]" : path) + " has " + len
                    + " entries, expected " + shape[depth] + " (arrays must be rectangular)");
        }
        if (depth == shape.length - 1) {
            for (int i = 0; i < len; i++) {
                out[pos[0]++] = ((Number) Array.get(level, i)).doubleValue();
            }
            return;
        }
        for (int i = 0; i < len; i++) {
            fill(Array.get(level, i), shape, depth + 1, out, pos, path + "[" + i + "]");
        }
    }
}
