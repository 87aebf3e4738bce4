package dev.backprop4j.core;

import java.util.Arrays;

/**
 * An immutable tensor shape: the sizes of the dimensions, outermost first (row-major).
 * Rank 0 is a scalar with one element. Negative axes count from the end, as in NumPy.
 */
public final class Shape {
    private final int[] dims;
    private final long size;

    private Shape(int[] dims) {
        long n = 1;
        for (int d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has a negative dimension");
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has more than 2^63-1 elements");
            }
        }
        this.dims = dims;
        this.size = n;
    }

    public static Shape of(int... dims) {
        return new Shape(dims.clone());
    }

    public static Shape scalar() {
        return new Shape(new int[0]);
    }

    public int rank() {
        return dims.length;
    }

    /** Size of dimension {@code axis} (negative counts from the end). */
    public int dim(int axis) {
        return dims[axis(axis, "dim")];
    }

    public int[] dims() {
        return dims.clone();
    }

    /** Number of elements. */
    public long size() {
        return size;
    }

    /** Number of elements as an int, for Java-array backed storage; fails clearly past 2^31-1. */
    public int intSize() {
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shape " + this + " has " + size + " elements, more than 2^31-1");
        }
        return (int) size;
    }

    /** Normalises {@code axis} (negative counts from the end) or fails naming {@code op} and this shape. */
    public int axis(int axis, String op) {
        int r = dims.length;
        int a = axis < 0 ? axis + r : axis;
        if (a < 0 || a >= r) {
            throw new IllegalArgumentException(op + ": axis " + axis + " is out of range for shape " + this
                    + " (rank " + r + ")");
        }
        return a;
    }

    /** Product of the dimensions before {@code axis}. */
    public int outer(int axis) {
        int n = 1;
        for (int i = 0; i < axis; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** Product of the dimensions after {@code axis}. */
    public int inner(int axis) {
        int n = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** This shape with dimension {@code axis} set to {@code size}. */
    public Shape with(int axis, int size) {
        int[] d = dims.clone();
        d[axis] = size;
        return new Shape(d);
    }

    /** This shape without dimension {@code axis}. */
    public Shape without(int axis) {
        int[] d = new int[dims.length - 1];
        for (int i = 0, j = 0; i < dims.length; i++) {
            if (i != axis) {
                d[j++] = dims[i];
            }
        }
        return new Shape(d);
    }

    /** Row-major strides in elements. */
    public long[] strides() {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }

    /**
     * Whether {@code row} is one row of {@code out} broadcast down it: it has exactly the elements of out's last
     * dimension (a [cols] bias against [rows, cols]), and that dimension is not empty. Backends take a fast path for it.
     */
    public static boolean isRowOf(Shape row, Shape out) {
        long cols = out.rank() == 0 ? 1 : out.dim(-1);
        return cols > 0 && row.size() == cols && (row.rank() == 0 ? cols == 1 : row.dim(-1) == cols);
    }

    /**
     * The NumPy broadcast of two shapes: aligned from the right, each pair of sizes equal or one of them 1.
     *
     * @throws IllegalArgumentException naming {@code op} and both shapes when they do not broadcast
     */
    public static Shape broadcast(String op, Shape a, Shape b) {
        int r = Math.max(a.rank(), b.rank());
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.rank() ? 1 : a.dims[i - (r - a.rank())];
            int db = i < r - b.rank() ? 1 : b.dims[i - (r - b.rank())];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + a + " and " + b
                        + " do not broadcast (dimension " + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return new Shape(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
