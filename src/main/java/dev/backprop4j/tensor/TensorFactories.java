package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;

/**
 * How tensors are made: the static methods of {@link Tensor} ({@code Tensor.zeros(2, 3)}, {@code Tensor.of(data,
 * dims)}, {@code Tensor.randn(gen, shape, dtype, device)}...), declared here to keep Tensor's own file to its state.
 * New tensors belong to the innermost open {@link Scope}.
 */
abstract class TensorFactories {

    TensorFactories() {
    }

    /** A tensor with undefined contents. */
    public static Tensor empty(Shape shape, DType dtype, Device device) {
        return new Tensor(Backends.of(device).allocate(dtype, shape.size()), shape);
    }

    public static Tensor full(double value, Shape shape, DType dtype, Device device) {
        Tensor t = empty(shape, dtype, device);
        t.backend().fill(t.buffer(), value);
        return t;
    }

    public static Tensor zeros(Shape shape, DType dtype, Device device) {
        return full(0.0, shape, dtype, device);
    }

    public static Tensor ones(Shape shape, DType dtype, Device device) {
        return full(1.0, shape, dtype, device);
    }

    /** float32 zeros on the CPU. */
    public static Tensor zeros(int... dims) {
        return zeros(Shape.of(dims), DType.FLOAT32, Device.CPU);
    }

    /** float32 ones on the CPU. */
    public static Tensor ones(int... dims) {
        return ones(Shape.of(dims), DType.FLOAT32, Device.CPU);
    }

    /** Zeros of {@code dtype} on the CPU, e.g. {@code Tensor.zeros(DType.FLOAT64, 3, 4)}. */
    public static Tensor zeros(DType dtype, int... dims) {
        return zeros(Shape.of(dims), dtype, Device.CPU);
    }

    /** Ones of {@code dtype} on the CPU. */
    public static Tensor ones(DType dtype, int... dims) {
        return ones(Shape.of(dims), dtype, Device.CPU);
    }

    /**
     * A tensor of {@code dtype} on the CPU from row-major doubles, each converted as a cast does (rounded to float32,
     * truncated toward zero for int32), e.g. {@code Tensor.of(new double[]{1, 2, 3, 4}, DType.FLOAT32, 2, 2)}.
     */
    public static Tensor of(double[] data, DType dtype, int... dims) {
        Tensor t = of(data, dims);
        if (dtype == DType.FLOAT64) {
            return t;
        }
        try (t) {
            return t.to(dtype);
        }
    }

    /** A float32 tensor of the given shape from row-major data. */
    public static Tensor of(float[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.FLOAT32, Device.CPU);
        t.backend().write(t.buffer(), data);
        return t;
    }

    /** A float64 tensor of the given shape from row-major data. */
    public static Tensor of(double[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.FLOAT64, Device.CPU);
        t.backend().write(t.buffer(), data);
        return t;
    }

    /** An int32 tensor (labels, indices) of the given shape from row-major data. */
    public static Tensor of(int[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.INT32, Device.CPU);
        t.backend().write(t.buffer(), data);
        return t;
    }

    /**
     * A bfloat16 tensor from bit patterns ({@link dev.backprop4j.core.BFloat16}; {@code Tensor.of(floats).to(
     * DType.BFLOAT16)} rounds floats to it).
     */
    public static Tensor ofBf16Bits(short[] bits, int... dims) {
        Tensor t = empty(checkedShape("ofBf16Bits", bits.length, dims), DType.BFLOAT16, Device.CPU);
        t.backend().write(t.buffer(), bits);
        return t;
    }

    /** A float32 [rows, cols] tensor from a rectangular nested array. */
    public static Tensor of(float[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        float[] flat = new float[rows.length * cols];
        for (int r = 0; r < rows.length; r++) {
            checkRow("of", r, rows[r].length, cols);
            System.arraycopy(rows[r], 0, flat, r * cols, cols);
        }
        return of(flat, rows.length, cols);
    }

    /** A float64 [rows, cols] tensor from a rectangular nested array. */
    public static Tensor of(double[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        double[] flat = new double[rows.length * cols];
        for (int r = 0; r < rows.length; r++) {
            checkRow("of", r, rows[r].length, cols);
            System.arraycopy(rows[r], 0, flat, r * cols, cols);
        }
        return of(flat, rows.length, cols);
    }

    /**
     * A tensor from a rectangular nested array of any depth: {@code float[]...[]} gives float32, {@code double[]...[]}
     * float64, e.g. {@code Tensor.fromNested(new float[][][]{{{1, 2}, {3, 4}}})} is [1, 2, 2].
     */
    public static Tensor fromNested(Object array) {
        NestedArrays.Flat flat = NestedArrays.flatten(array);
        Tensor t = of(flat.values(), flat.dims());
        if (!flat.isFloat()) {
            return t;
        }
        try (t) {
            return t.to(DType.FLOAT32);
        }
    }

    private static void checkRow(String op, int row, int len, int cols) {
        if (len != cols) {
            throw new IllegalArgumentException(op + ": row " + row + " has " + len + " values, row 0 has " + cols);
        }
    }

    private static Shape checkedShape(String op, int length, int[] dims) {
        Shape s = dims.length == 0 && length != 1 ? Shape.of(length) : Shape.of(dims);
        if (s.size() != length) {
            throw new IllegalArgumentException(op + ": " + length + " values do not fill shape " + s);
        }
        return s;
    }

    /** A float32 scalar (rank 0). */
    public static Tensor scalar(double value) {
        return scalar(value, DType.FLOAT32);
    }

    public static Tensor scalar(double value, DType dtype) {
        return full(value, Shape.scalar(), dtype, Device.CPU);
    }

    /** float32 [0, 1, ..., n-1]. */
    public static Tensor arange(int n) {
        return arange(0, n, 1, DType.FLOAT32);
    }

    /** [start, start+step, ...) up to but excluding end. */
    public static Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0 || (end - start) / step < 0) {
            throw new IllegalArgumentException("arange: no values from " + start + " to " + end + " by " + step);
        }
        int n = (int) Math.ceil((end - start) / step);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = start + i * step;
        }
        return of(v, n).to(dtype);
    }

    /** Uniform on [0, 1) from the generator. */
    public static Tensor rand(Generator gen, Shape shape, DType dtype, Device device) {
        return random(gen, Distribution.UNIFORM, 0, 1, shape, dtype, device);
    }

    /** Standard normal from the generator. */
    public static Tensor randn(Generator gen, Shape shape, DType dtype, Device device) {
        return random(gen, Distribution.NORMAL, 0, 1, shape, dtype, device);
    }

    /** float32 uniform on [0, 1) on the CPU from the global generator. */
    public static Tensor rand(int... dims) {
        return rand(Generator.global(), Shape.of(dims), DType.FLOAT32, Device.CPU);
    }

    /** float32 standard normal on the CPU from the global generator. */
    public static Tensor randn(int... dims) {
        return randn(Generator.global(), Shape.of(dims), DType.FLOAT32, Device.CPU);
    }

    /** Draws from {@code dist} with parameters a, b (see {@link Distribution}). */
    public static Tensor random(Generator gen, Distribution dist, double a, double b, Shape shape, DType dtype,
                                Device device) {
        arithmeticOnly("random", dtype);
        Tensor t = empty(shape, dtype, device);
        long offset = gen.take(shape.size());
        t.backend().random(t.buffer(), dist, a, b, gen.seed(), offset);
        return t;
    }

    /**
     * Draws from {@code dist} with parameters a, b under {@code seed}, starting at the counter that {@code counter}
     * (float64 [1]) holds on its device, which the device then advances past the numbers drawn (as
     * {@link Generator#take}): the draw never waits, and a replayed CUDA graph draws new numbers each time (dropout).
     */
    public static Tensor random(long seed, Tensor counter, Distribution dist, double a, double b, Shape shape,
                                DType dtype) {
        if (counter.dtype() != DType.FLOAT64 || counter.size() != 1) {
            throw new IllegalArgumentException("random: the counter must be a float64 [1] tensor, got "
                    + counter.describe());
        }
        arithmeticOnly("random", dtype);
        Tensor t = empty(shape, dtype, counter.device());
        t.backend().random(t.buffer(), dist, a, b, seed, counter.buffer());
        return t;
    }

    private static void arithmeticOnly(String op, DType dtype) {
        if (!dtype.isArithmetic()) {
            throw new IllegalArgumentException(op + ": " + dtype + " is storage only here: draw float32 and cast it "
                    + "with .to(DType." + dtype.name() + ")");
        }
    }

}
