package dev.backprop4j.tensor;

import dev.backprop4j.autograd.Node;
import dev.backprop4j.autograd.Tape;
import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Backends;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.Distribution;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.ops.Add;
import dev.backprop4j.ops.Cast;
import dev.backprop4j.ops.Div;
import dev.backprop4j.ops.Gather;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.ops.MatMul;
import dev.backprop4j.ops.Max;
import dev.backprop4j.ops.Mul;
import dev.backprop4j.ops.Narrow;
import dev.backprop4j.ops.Pointwise;
import dev.backprop4j.ops.Reshape;
import dev.backprop4j.ops.Softmax;
import dev.backprop4j.ops.Sub;
import dev.backprop4j.ops.Sum;
import dev.backprop4j.ops.ToDevice;
import dev.backprop4j.ops.Transpose;

/**
 * An n-dimensional array of one {@link DType} on one {@link Device}, contiguous and row-major, that
 * can record the ops applied to it for reverse-mode differentiation.
 *
 * <p>Elementwise ops broadcast by NumPy's rules ({@code [B,N] + [N]}); operands must share device and
 * dtype: nothing is moved or cast implicitly ({@link #to(Device)} and {@link #to(DType)} do it, and
 * are themselves differentiable). A tensor created with {@link #requiresGrad(boolean) requiresGrad(true)}
 * is a leaf: after {@link #backward()} its {@link #grad()} holds d(output)/d(tensor), accumulated over
 * backward calls until {@link #zeroGrad()}.
 *
 * <p>Tensors are {@link AutoCloseable}; a {@link Scope} closes those created inside it. Closing frees
 * device memory at once (the CPU's goes to the garbage collector); using a closed tensor fails.
 */
public final class Tensor implements AutoCloseable {
    private final Buffer buffer;
    private final Shape shape;
    private boolean requiresGrad;
    private boolean retainGrad;
    private Tensor grad;
    private Node gradFn;
    private boolean closed;
    private String name;
    Scope owner;

    private Tensor(Buffer buffer, Shape shape) {
        if (buffer.length() != shape.size()) {
            throw new IllegalArgumentException("buffer of " + buffer.length() + " elements cannot hold shape " + shape);
        }
        this.buffer = buffer;
        this.shape = shape;
        Scope.register(this);
    }

    // ---- creation -------------------------------------------------------------------------------

    /** Wraps a buffer (taking over one reference to it) as a tensor of the given shape. For ops and backends. */
    public static Tensor wrap(Buffer buffer, Shape shape) {
        return new Tensor(buffer, shape);
    }

    /** A tensor with undefined contents. */
    public static Tensor empty(Shape shape, DType dtype, Device device) {
        return new Tensor(Backends.of(device).allocate(dtype, shape.size()), shape);
    }

    public static Tensor full(double value, Shape shape, DType dtype, Device device) {
        Tensor t = empty(shape, dtype, device);
        t.backend().fill(t.buffer, value);
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

    /** A float32 tensor of the given shape from row-major data. */
    public static Tensor of(float[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.FLOAT32, Device.CPU);
        t.backend().write(t.buffer, data);
        return t;
    }

    /** A float64 tensor of the given shape from row-major data. */
    public static Tensor of(double[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.FLOAT64, Device.CPU);
        t.backend().write(t.buffer, data);
        return t;
    }

    /** An int32 tensor (labels, indices) of the given shape from row-major data. */
    public static Tensor of(int[] data, int... dims) {
        Tensor t = empty(checkedShape("of", data.length, dims), DType.INT32, Device.CPU);
        t.backend().write(t.buffer, data);
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
        java.util.List<Integer> dims = new java.util.ArrayList<>();
        Object level = array;
        while (level != null && level.getClass().isArray()) {
            int len = java.lang.reflect.Array.getLength(level);
            dims.add(len);
            if (level instanceof float[] || level instanceof double[] || len == 0) {
                break;
            }
            level = java.lang.reflect.Array.get(level, 0);
        }
        boolean isFloat = level instanceof float[];
        if (!isFloat && !(level instanceof double[])) {
            throw new IllegalArgumentException("fromNested: expected nested float[] or double[] arrays, got "
                    + (array == null ? "null" : array.getClass().getSimpleName()));
        }
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        int size = (int) Shape.of(shape).size();
        double[] flat = new double[size];
        fill(array, shape, 0, flat, new int[]{0}, "");
        Tensor t = of(flat, shape);
        return isFloat ? t.to(DType.FLOAT32) : t;
    }

    private static void fill(Object level, int[] shape, int depth, double[] out, int[] pos, String path) {
        int len = java.lang.reflect.Array.getLength(level);
        if (len != shape[depth]) {
            throw new IllegalArgumentException("fromNested: element " + (path.isEmpty() ? "[]" : path) + " has " + len
                    + " entries, expected " + shape[depth] + " (arrays must be rectangular)");
        }
        if (depth == shape.length - 1) {
            for (int i = 0; i < len; i++) {
                out[pos[0]++] = ((Number) java.lang.reflect.Array.get(level, i)).doubleValue();
            }
            return;
        }
        for (int i = 0; i < len; i++) {
            fill(java.lang.reflect.Array.get(level, i), shape, depth + 1, out, pos, path + "[" + i + "]");
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
        Tensor t = empty(shape, dtype, device);
        long offset = gen.take(shape.size());
        t.backend().random(t.buffer, dist, a, b, gen.seed(), offset);
        return t;
    }

    // ---- what it is -----------------------------------------------------------------------------

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return buffer.dtype();
    }

    public Device device() {
        return buffer.device();
    }

    public int rank() {
        return shape.rank();
    }

    public long size() {
        return shape.size();
    }

    /** Size of dimension {@code axis} (negative counts from the end). */
    public int dim(int axis) {
        return shape.dim(axis);
    }

    /** The storage, for ops and backends; fails if this tensor is closed. */
    public Buffer buffer() {
        if (closed) {
            throw new IllegalStateException("tensor " + describe() + " is closed");
        }
        return buffer;
    }

    /** The backend of this tensor's device. */
    public Backend backend() {
        return Backends.of(device());
    }

    public boolean isClosed() {
        return closed;
    }

    /** "[2, 3] float32 cpu", plus the name if one was given. */
    public String describe() {
        return (name == null ? "" : "'" + name + "' ") + shape + " " + dtype() + " " + device();
    }

    public Tensor name(String name) {
        this.name = name;
        return this;
    }

    public String name() {
        return name;
    }

    // ---- reading back -----------------------------------------------------------------------------

    /** The value of a one-element tensor. */
    public double item() {
        if (size() != 1) {
            throw new IllegalStateException("item: tensor " + describe() + " has " + size() + " elements, not 1");
        }
        return backend().readDoubles(buffer())[0];
    }

    public float[] toFloatArray() {
        return backend().readFloats(buffer());
    }

    public double[] toDoubleArray() {
        return backend().readDoubles(buffer());
    }

    /** The values of an int32 tensor. */
    public int[] toIntArray() {
        if (dtype() != DType.INT32) {
            throw new IllegalStateException("toIntArray: tensor " + describe() + " is not int32");
        }
        return backend().readInts(buffer());
    }

    // ---- autograd -----------------------------------------------------------------------------------

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Marks a leaf as needing its gradient; returns this. */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on) {
            throw new IllegalStateException("requiresGrad: " + describe() + " is the output of op '" + gradFn.op()
                    + "'; use detach() to stop gradients");
        }
        if (on && !dtype().isFloating()) {
            throw new IllegalArgumentException("requiresGrad: " + describe() + " is not floating point");
        }
        this.requiresGrad = on;
        return this;
    }

    /** The accumulated gradient of a leaf (or of a tensor that called {@link #retainGrad()}); null before any backward. */
    public Tensor grad() {
        return grad;
    }

    /** Drops the accumulated gradient (frees it). */
    public void zeroGrad() {
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** Keeps the gradient of this non-leaf tensor in {@link #grad()} after backward. */
    public Tensor retainGrad() {
        retainGrad = true;
        return this;
    }

    public boolean retainsGrad() {
        return retainGrad;
    }

    /** The recorded op that produced this tensor, or null for a leaf or a tensor made without grad. */
    public Node gradFn() {
        return gradFn;
    }

    public boolean isLeaf() {
        return gradFn == null;
    }

    /** For {@link Tape}: makes this tensor the output of a recorded node. */
    public void attachGradFn(Node node) {
        this.gradFn = node;
        this.requiresGrad = true;
    }

    /** For {@link Tape}: adds a copy of {@code g} into {@link #grad()}, which this tensor owns. */
    public void accumulateGrad(Tensor g) {
        accumulateGrad(g, false);
    }

    /**
     * For {@link Tape}: adds {@code g} into {@link #grad()}. With {@code mayTake} (g is a fresh gradient nobody
     * else holds) a first gradient is taken over instead of copied.
     */
    public void accumulateGrad(Tensor g, boolean mayTake) {
        if (grad == null) {
            grad = mayTake ? g : g.copy();
            Scope.detach(grad);
        } else {
            backend().binary(BinaryOp.ADD, grad.buffer(), shape, g.buffer(), g.shape, grad.buffer(), shape);
        }
    }

    /** Backpropagates from this one-element tensor (seed 1), releasing the graph. */
    public void backward() {
        Tape.backward(this, null, false, null);
    }

    /** Backpropagates with an explicit seed gradient of this tensor's shape. */
    public void backward(Tensor seed) {
        Tape.backward(this, seed, false, null);
    }

    /** Backpropagates; with retainGraph the graph stays usable for another backward. */
    public void backward(Tensor seed, boolean retainGraph) {
        Tape.backward(this, seed, retainGraph, null);
    }

    /** The same data with no history and no gradient requirement (shares the buffer). */
    public Tensor detach() {
        buffer().retain();
        return new Tensor(buffer, shape);
    }

    /** A new tensor with a copy of the data, detached from the graph. */
    public Tensor copy() {
        Tensor t = empty(shape, dtype(), device());
        backend().copy(buffer(), 0, t.buffer, 0, size());
        return t;
    }

    // ---- elementwise arithmetic (broadcasting) ------------------------------------------------------

    public Tensor add(Tensor other) {
        return Add.apply(this, other);
    }

    public Tensor sub(Tensor other) {
        return Sub.apply(this, other);
    }

    public Tensor mul(Tensor other) {
        return Mul.apply(this, other);
    }

    public Tensor div(Tensor other) {
        return Div.apply(this, other);
    }

    public Tensor add(double s) {
        return Pointwise.apply(UnaryOp.ADD_SCALAR, this, s, 0);
    }

    public Tensor sub(double s) {
        return Pointwise.apply(UnaryOp.ADD_SCALAR, this, -s, 0);
    }

    public Tensor mul(double s) {
        return Pointwise.apply(UnaryOp.MUL_SCALAR, this, s, 0);
    }

    public Tensor div(double s) {
        return Pointwise.apply(UnaryOp.MUL_SCALAR, this, 1.0 / s, 0);
    }

    /** s - this. */
    public Tensor rsub(double s) {
        return neg().add(s);
    }

    /** s / this. */
    public Tensor rdiv(double s) {
        return Pointwise.apply(UnaryOp.RDIV_SCALAR, this, s, 0);
    }

    public Tensor neg() {
        return Pointwise.apply(UnaryOp.NEG, this, 0, 0);
    }

    public Tensor pow(double exponent) {
        return Pointwise.apply(UnaryOp.POW, this, exponent, 0);
    }

    public Tensor square() {
        return pow(2);
    }

    public Tensor exp() {
        return Pointwise.apply(UnaryOp.EXP, this, 0, 0);
    }

    public Tensor log() {
        return Pointwise.apply(UnaryOp.LOG, this, 0, 0);
    }

    public Tensor sqrt() {
        return Pointwise.apply(UnaryOp.SQRT, this, 0, 0);
    }

    public Tensor abs() {
        return Pointwise.apply(UnaryOp.ABS, this, 0, 0);
    }

    public Tensor clamp(double min, double max) {
        if (min > max) {
            throw new IllegalArgumentException("clamp: min " + min + " > max " + max + " for " + describe());
        }
        return Pointwise.apply(UnaryOp.CLAMP, this, min, max);
    }

    // ---- activations ----------------------------------------------------------------------------------

    public Tensor relu() {
        return Pointwise.apply(UnaryOp.RELU, this, 0, 0);
    }

    public Tensor leakyRelu(double negativeSlope) {
        return Pointwise.apply(UnaryOp.LEAKY_RELU, this, negativeSlope, 0);
    }

    public Tensor sigmoid() {
        return Pointwise.apply(UnaryOp.SIGMOID, this, 0, 0);
    }

    public Tensor tanh() {
        return Pointwise.apply(UnaryOp.TANH, this, 0, 0);
    }

    /** GELU, tanh approximation. */
    public Tensor gelu() {
        return Pointwise.apply(UnaryOp.GELU, this, 0, 0);
    }

    /** ln(1 + e^x). */
    public Tensor softplus() {
        return Pointwise.apply(UnaryOp.SOFTPLUS, this, 0, 0);
    }

    public Tensor softmax(int axis) {
        return Softmax.apply(this, axis, false);
    }

    public Tensor logSoftmax(int axis) {
        return Softmax.apply(this, axis, true);
    }

    // ---- linear algebra and shape -----------------------------------------------------------------------

    /** [m,k] @ [k,n], or batched [b,m,k] @ [b,k,n] (either side may be 2-D and is shared over the batch). */
    public Tensor matmul(Tensor other) {
        return MatMul.apply(this, other);
    }

    /** Swaps the last two dimensions (the matrix transpose of a 2-D tensor). */
    public Tensor transpose() {
        return Transpose.apply(this);
    }

    /** Same data, new shape (one dimension may be -1 and is inferred). */
    public Tensor reshape(int... dims) {
        return Reshape.apply(this, dims);
    }

    /** Alias of {@link #reshape}: storage is always contiguous, so every reshape is a view. */
    public Tensor view(int... dims) {
        return reshape(dims);
    }

    /** [d0, d1, ...] to [d0, d1*...]. */
    public Tensor flatten() {
        return rank() <= 1 ? reshape((int) size()) : reshape(dim(0), shape.inner(0));
    }

    /** The entries start..start+length-1 along axis. */
    public Tensor narrow(int axis, int start, int length) {
        return Narrow.apply(this, axis, start, length);
    }

    /** Rows [from, to) along the first axis: a batch. */
    public Tensor slice(int from, int to) {
        return narrow(0, from, to - from);
    }

    /** out[r] = this[r, index[r]] for a [rows, cols] tensor and int32 [rows] indices. */
    public Tensor gather(Tensor index) {
        return Gather.apply(this, index);
    }

    /** This tensor repeated along size-1 (or missing) leading dimensions to {@code target}. */
    public Tensor expand(Shape target) {
        return dev.backprop4j.ops.Expand.apply(this, target);
    }

    // ---- reductions --------------------------------------------------------------------------------------

    /** Sum of all elements (rank 0). */
    public Tensor sum() {
        return Sum.apply(this, allAxes(), false);
    }

    public Tensor sum(int axis) {
        return Sum.apply(this, new int[]{axis}, false);
    }

    public Tensor sum(int[] axes, boolean keepDim) {
        return Sum.apply(this, axes, keepDim);
    }

    public Tensor mean() {
        return sum().div(size());
    }

    public Tensor mean(int axis) {
        return mean(new int[]{axis}, false);
    }

    public Tensor mean(int[] axes, boolean keepDim) {
        long n = 1;
        for (int a : axes) {
            n *= dim(a);
        }
        return sum(axes, keepDim).div(n);
    }

    public Tensor max() {
        return Max.apply(this, allAxes(), false);
    }

    public Tensor max(int axis) {
        return Max.apply(this, new int[]{axis}, false);
    }

    public Tensor max(int[] axes, boolean keepDim) {
        return Max.apply(this, axes, keepDim);
    }

    /** Index of the largest entry along axis (int32; not differentiable). */
    public Tensor argmax(int axis) {
        return dev.backprop4j.ops.ArgMax.apply(this, axis);
    }

    private int[] allAxes() {
        int[] a = new int[rank()];
        for (int i = 0; i < a.length; i++) {
            a[i] = i;
        }
        return a;
    }

    // ---- losses -------------------------------------------------------------------------------------------

    /** Mean softmax cross-entropy of these [rows, classes] logits against int32 labels [rows]. */
    public Tensor crossEntropy(Tensor labels) {
        return Losses.crossEntropy(this, labels);
    }

    // ---- moves ---------------------------------------------------------------------------------------------

    /** This tensor on {@code device}; differentiable (the gradient goes back to this device). Returns this tensor itself when it is already there, as PyTorch's {@code to} does. */
    public Tensor to(Device device) {
        return ToDevice.apply(this, device);
    }

    /** This tensor as {@code dtype}; differentiable for float types. Returns this tensor itself when it already has that dtype. */
    public Tensor to(DType dtype) {
        return Cast.apply(this, dtype);
    }

    // ---- lifetime ------------------------------------------------------------------------------------------

    /** Frees this tensor's reference to its storage, and its gradient; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Scope.detach(this);
        buffer.release();
        if (grad != null) {
            grad.close();
            grad = null;
        }
        gradFn = null;
    }

    @Override
    public String toString() {
        if (closed) {
            return "Tensor(" + describe() + ", closed)";
        }
        return "Tensor(shape=" + shape + ", dtype=" + dtype() + ", device=" + device()
                + (requiresGrad ? ", requiresGrad" : "") + ")\n" + TensorFormat.values(this);
    }
}
