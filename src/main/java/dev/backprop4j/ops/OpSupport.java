package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tensor;

/** Checks and building blocks shared by the ops: argument errors name the op and the shapes. */
final class OpSupport {

    private OpSupport() {
    }

    /** Fails unless t is open and floating point (and not storage-only bfloat16). */
    static void floating(String op, Tensor t) {
        open(op, t);
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": needs a floating-point tensor, got " + t.describe());
        }
        arithmetic(op, t);
    }

    /** Fails for a bfloat16 tensor, which ops do not compute in: it is storage (casts, moves, views, files). */
    static void arithmetic(String op, Tensor t) {
        if (!t.dtype().isArithmetic()) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " is bfloat16, which is storage only here: "
                    + "cast it with .to(DType.FLOAT32) first");
        }
    }

    static void open(String op, Tensor t) {
        if (t.isClosed()) {
            throw new IllegalStateException(op + ": tensor " + t.describe() + " is closed");
        }
    }

    /** Fails unless a and b are open and share device and dtype. */
    static void compatible(String op, Tensor a, Tensor b) {
        open(op, a);
        open(op, b);
        if (!a.device().equals(b.device())) {
            throw new IllegalArgumentException(op + ": tensors on different devices: " + a.describe() + " and "
                    + b.describe() + " (move one with .to(device))");
        }
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": tensors of different dtypes: " + a.describe() + " and "
                    + b.describe() + " (convert one with .to(dtype))");
        }
        arithmetic(op, a);
    }

    /** Fails unless {@code index} is an open int32 tensor on x's device (labels, gather indices). */
    static void intIndexOn(String op, String what, Tensor index, Tensor x) {
        open(op, index);
        if (index.dtype() != DType.INT32 || !index.device().equals(x.device())) {
            throw new IllegalArgumentException(op + ": " + what + " must be int32 class indices on " + x.device()
                    + ", got " + index.describe());
        }
    }

    /**
     * A GEMM's input as autocast wants it: {@code t} itself, or with {@code half} (a float32 input under
     * {@link Autocast#bf16}) its bfloat16 copy (one cast, not recorded), which the backend's mixed-precision GEMM
     * multiplies exactly and sums in float32 into a float32 output, as tensor cores do.
     */
    static Tensor gemmInput(Tensor t, boolean half) {
        if (!half || t.dtype() != DType.FLOAT32) {
            return t;
        }
        Tensor h = emptyOf(t.shape(), DType.BFLOAT16, t);
        t.backend().cast(t.buffer(), h.buffer());
        return h;
    }

    /** The precision GEMMs of {@code t} run in now: autocast's for a float32 t, else exact. */
    static Autocast.Precision gemmPrecision(Tensor t) {
        return t.dtype() == DType.FLOAT32 ? Autocast.precision() : Autocast.Precision.FP32;
    }

    /** A new tensor with like's dtype and device and undefined contents. */
    static Tensor empty(Shape shape, Tensor like) {
        return Tensor.empty(shape, like.dtype(), like.device());
    }

    static Tensor emptyOf(Shape shape, DType dtype, Tensor like) {
        return Tensor.empty(shape, dtype, like.device());
    }

    /** out = a (op) b with broadcasting, not recorded. */
    static Tensor binary(String name, BinaryOp op, Tensor a, Tensor b) {
        compatible(name, a, b);
        floating(name, a);
        Shape shape = Shape.broadcast(name, a.shape(), b.shape());
        Tensor out = empty(shape, a);
        a.backend().binary(op, a.buffer(), a.shape(), b.buffer(), b.shape(), out.buffer(), shape);
        return out;
    }

    /**
     * The gradient of a broadcast operand: g summed over the axes along which an input of shape
     * {@code target} was broadcast to g's shape.
     */
    static Tensor sumTo(Tensor g, Shape target) {
        if (g.shape().equals(target)) {
            return g;
        }
        int lead = g.rank() - target.rank();
        int[] axes = new int[g.rank()];
        int n = 0;
        for (int i = 0; i < g.rank(); i++) {
            if (i < lead || (target.dim(i - lead) == 1 && g.dim(i) != 1)) {
                axes[n++] = i;
            }
        }
        if (n == 0) {
            return g.reshape(target.dims());
        }
        Tensor summed = g.sum(java.util.Arrays.copyOf(axes, n), true);
        Tensor view = summed.reshape(target.dims());
        summed.close();   // the view holds the buffer alone, so a leaf may take it over without a copy
        return view;
    }
}
