package dev.backprop4j.tensor;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.PendingRead;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;

/**
 * An n-dimensional array of one {@link DType} on one {@link Device}, contiguous and row-major, that
 * can record the ops applied to it for reverse-mode differentiation. Tensors are made by its static methods
 * ({@code Tensor.of}, {@code zeros}, {@code randn}..., declared in {@link TensorFactories}); the ops are its methods
 * (declared in {@link TensorOps}, each calling its class in {@code dev.backprop4j.ops}); the tape's hooks are
 * package-private.
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
public final class Tensor extends TensorOps implements AutoCloseable {
    private final Buffer buffer;
    private final Shape shape;
    private boolean requiresGrad;
    private boolean retainGrad;
    private Tensor grad;
    private Tape.Node gradFn;
    private boolean closed;
    /** Where the Scope that closed this tensor was opened ("Trainer.java:61"), for the error on later use. */
    private String closedByScope;
    private String name;
    Scope owner;

    Tensor(Buffer buffer, Shape shape) {
        if (buffer.length() != shape.size()) {
            throw new IllegalArgumentException("buffer of " + buffer.length() + " elements cannot hold shape " + shape);
        }
        this.buffer = buffer;
        this.shape = shape;
        Scope.register(this);
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

    /** The storage, for ops and backends; fails if this tensor is closed, saying by which scope if one closed it. */
    public Buffer buffer() {
        if (closed) {
            throw new IllegalStateException("tensor " + describe() + " is closed" + (closedByScope == null ? ""
                    : " (it was created inside the Scope opened at " + closedByScope + " and closed with it: create "
                    + "it before that scope opens, or move it out with scope.keep(tensor))"));
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

    /** The bit patterns of a bfloat16 tensor ({@link dev.backprop4j.core.BFloat16}), as safetensors stores them. */
    public short[] toBf16Bits() {
        if (dtype() != DType.BFLOAT16) {
            throw new IllegalStateException("toBf16Bits: tensor " + describe() + " is not bfloat16");
        }
        return backend().readBf16(buffer());
    }

    /**
     * Starts copying this tensor's values to the host behind the queued work and returns at once; the result's
     * {@code get()} waits for them (as doubles), {@code isDone()} tells without waiting.
     */
    public PendingRead readLater() {
        return backend().readLater(buffer());
    }

    /** The number of positions where this int32 tensor and {@code other} (same shape) hold equal values; waits. */
    public long countEqual(Tensor other) {
        if (dtype() != DType.INT32 || other.dtype() != DType.INT32 || !shape.equals(other.shape)
                || !device().equals(other.device())) {
            throw new IllegalArgumentException("countEqual: needs two int32 tensors of one shape on one device, got "
                    + describe() + " and " + other.describe());
        }
        return backend().countEqual(buffer(), other.buffer(), size());
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
        if (on && !(dtype().isFloating() && dtype().isArithmetic())) {
            throw new IllegalArgumentException("requiresGrad: " + describe() + " is not a float32 or float64 tensor "
                    + "(bfloat16 is storage: train in float32, with Autocast for bfloat16 matrix products)");
        }
        this.requiresGrad = on;
        return this;
    }

    /**
     * The accumulated gradient of a leaf (or of a tensor that called {@link #retainGrad()}), as PyTorch's
     * {@code .grad}: <b>null</b> until a backward reaches this tensor, so also for a tensor that does not require
     * grad or that the loss does not depend on. It belongs to this tensor and is closed with it (a leaf created
     * inside a {@link Scope} loses its gradient when the scope closes).
     */
    public Tensor grad() {
        return grad;
    }

    /** Drops the accumulated gradient (frees it): {@code zeroGrad(true)}. */
    public void zeroGrad() {
        zeroGrad(true);
    }

    /**
     * As PyTorch's {@code zero_grad(set_to_none)}: with setToNone the gradient is dropped (freed; {@link #grad()}
     * null), else it becomes zeros and its tensor is kept (a zero gradient is made when there is none), so code
     * that holds the gradient tensor, or a collective that needs every gradient, keeps working.
     */
    public void zeroGrad(boolean setToNone) {
        if (setToNone) {
            if (grad != null) {
                grad.close();
                grad = null;
            }
            return;
        }
        if (!dtype().isFloating()) {
            throw new IllegalStateException("zeroGrad: " + describe() + " is not floating point and has no gradient");
        }
        if (grad == null) {
            grad = empty(shape, dtype(), device());
            Scope.detach(grad);
        }
        backend().fill(grad.buffer(), 0);
    }

    /** Keeps the gradient of this non-leaf tensor in {@link #grad()} after backward. */
    public Tensor retainGrad() {
        retainGrad = true;
        return this;
    }

    boolean retainsGrad() {
        return retainGrad;
    }

    /** The recorded op that produced this tensor, or null for a leaf or a tensor made without grad. */
    Tape.Node gradFn() {
        return gradFn;
    }

    public boolean isLeaf() {
        return gradFn == null;
    }

    /** For {@link Tape}: makes this tensor the output of a recorded node. */
    void attachGradFn(Tape.Node node) {
        this.gradFn = node;
        this.requiresGrad = true;
    }

    /** For {@link Tape}: adds a copy of {@code g} into {@link #grad()}, which this tensor owns. */
    void accumulateGrad(Tensor g) {
        accumulateGrad(g, false);
    }

    /**
     * For {@link Tape}: adds {@code g} into {@link #grad()}. With {@code mayTake} (g is a fresh gradient nobody
     * else holds) a first gradient is taken over instead of copied.
     */
    void accumulateGrad(Tensor g, boolean mayTake) {
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

    /**
     * {@link #detach()} viewed with another shape of the same number of elements (shares the buffer): what an op
     * builds a view on, before it records itself ({@code Reshape}).
     */
    public Tensor detach(Shape newShape) {
        if (newShape.size() != shape.size()) {
            throw new IllegalArgumentException("detach: " + describe() + " cannot be viewed as " + newShape);
        }
        buffer().retain();
        return new Tensor(buffer, newShape);
    }

    /**
     * Copies {@code src}'s values into this tensor, in place and unrecorded, from any device: same shape and dtype
     * (as PyTorch's {@code copy_}, without casting). Loading parameters uses it, so optimizers built on them keep
     * working.
     */
    public void copyFrom(Tensor src) {
        if (!src.shape.equals(shape) || src.dtype() != dtype()) {
            throw new IllegalArgumentException("copyFrom: " + src.describe() + " into " + describe()
                    + " (shape and dtype must match)");
        }
        Backends.transfer(src.buffer(), buffer());
    }

    /**
     * Copies host values into this float32 tensor, in place and unrecorded (on a GPU without waiting): as many
     * values as it has elements, row-major.
     */
    public void copyFrom(float[] values) {
        checkHostCopy(values.length, DType.FLOAT32);
        backend().write(buffer(), values);
    }

    /** {@link #copyFrom(float[])} for a float64 tensor. */
    public void copyFrom(double[] values) {
        checkHostCopy(values.length, DType.FLOAT64);
        backend().write(buffer(), values);
    }

    /** {@link #copyFrom(float[])} for an int32 tensor. */
    public void copyFrom(int[] values) {
        checkHostCopy(values.length, DType.INT32);
        backend().write(buffer(), values);
    }

    private void checkHostCopy(int length, DType type) {
        if (length != size() || dtype() != type) {
            throw new IllegalArgumentException("copyFrom: " + length + " " + type + " values into " + describe()
                    + " (the count and the type must match)");
        }
    }

    /** A new tensor with a copy of the data, detached from the graph. */
    public Tensor copy() {
        Tensor t = empty(shape, dtype(), device());
        backend().copy(buffer(), 0, t.buffer, 0, size());
        return t;
    }

    // ---- lifetime ------------------------------------------------------------------------------------------

    /** Closes this tensor on behalf of the scope opened at {@code site}, which later errors name. */
    void closeByScope(String site) {
        if (!closed) {
            closedByScope = site;
            close();
        }
    }

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
                + (requiresGrad ? ", requiresGrad" : "") + ")\n" + TensorFormat.values(toDoubleArray(), shape.dims(),
                dtype() == DType.INT32);
    }
}
