package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/elementwise.cu, for FLOAT32 and FLOAT64 buffers of n contiguous elements:
 * <ul>
 *   <li>{@link #unaryForward}: out[i] = f(x[i]; p1, p2) for a {@link UnaryOp} (formulas of CpuMath.forward);</li>
 *   <li>{@link #unaryBackward}: dx[i] = dy[i] f'(x[i]), from x and / or the forward output y (CpuMath.derivative);</li>
 *   <li>{@link #binaryForward}: out[i] = a[i] (op) b[i], all of one shape;</li>
 *   <li>{@link #binaryRowForward}: out[r, c] = a[r, c] (op) b[c], a and out [rows, cols], b [cols] (bias add);</li>
 *   <li>{@link #binaryBroadcastForward}: out = a (op) b with NumPy broadcasting, up to 8 dimensions after merging;</li>
 *   <li>{@link #binary}: picks one of the three binary kernels from the shapes.</li>
 * </ul>
 * Math runs in the buffer's type (float math for float32). Outputs may alias inputs of the same shape. Java
 * parameters follow {@link dev.backprop4j.backend.Backend}'s order (inputs, then outputs, then sizes, then the
 * stream); the kernels themselves take outputs first.
 */
final class ElementwiseKernels implements AutoCloseable {

    static final String MODULE = "elementwise";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "unary_forward", "unary_backward", "binary_forward",
                "binary_row_forward", "binary_broadcast_forward");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] unaryForward;
    private final KernelModule.Kernel[] unaryBackward;
    private final KernelModule.Kernel[] binaryForward;
    private final KernelModule.Kernel[] binaryRowForward;
    private final KernelModule.Kernel[] binaryBroadcastForward;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    ElementwiseKernels(KernelModule module) {
        this.module = module;
        this.unaryForward = module.family("unary_forward");
        this.unaryBackward = module.family("unary_backward");
        this.binaryForward = module.family("binary_forward");
        this.binaryRowForward = module.family("binary_row_forward");
        this.binaryBroadcastForward = module.family("binary_broadcast_forward");
    }

    /** Loads the module into the current CUDA context. */
    public static ElementwiseKernels load() {
        return new ElementwiseKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** out[i] = f(x[i]; p1, p2) for i < n; out may be x. */
    public void unaryForward(UnaryOp op, DType dtype, CUdeviceptr x, CUdeviceptr out, long n, double p1, double p2,
                             CUstream stream) {
        KernelModule.requireNonNegative("unary " + op.opName(), n);
        if (n == 0) {
            return;
        }
        launch1d(pick(unaryForward, dtype, "unary"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(x).i64(n).i32(op.ordinal()).f64(p1).f64(p2));
    }

    /**
     * dx[i] = dy[i] * f'(x[i]) for i < n, where f' may read the forward input x and / or output y; pass null for
     * one the op does not read ({@link UnaryOp#derivativeNeedsInput}, {@link UnaryOp#derivativeNeedsOutput}).
     * dx may be dy.
     */
    public void unaryBackward(UnaryOp op, DType dtype, CUdeviceptr x, CUdeviceptr y, CUdeviceptr dy, CUdeviceptr dx,
                              long n, double p1, double p2, CUstream stream) {
        KernelModule.requireNonNegative("unary_backward " + op.opName(), n);
        if ((op.derivativeNeedsInput() && x == null) || (op.derivativeNeedsOutput() && y == null)) {
            throw new IllegalArgumentException("unary_backward " + op.opName() + ": the derivative needs "
                    + (op.derivativeNeedsInput() ? "the input x" : "the output y") + ", which is null");
        }
        if (n == 0) {
            return;
        }
        launch1d(pick(unaryBackward, dtype, "unary_backward"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(dx).ptr(x).ptr(y).ptr(dy).i64(n).i32(op.ordinal()).f64(p1).f64(p2));
    }

    /** out[i] = a[i] (op) b[i] for i < n. */
    public void binaryForward(BinaryOp op, DType dtype, CUdeviceptr a, CUdeviceptr b, CUdeviceptr out, long n,
                              CUstream stream) {
        KernelModule.requireNonNegative("binary " + op, n);
        if (n == 0) {
            return;
        }
        launch1d(pick(binaryForward, dtype, "binary"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(a).ptr(b).i64(n).i32(op.ordinal()));
    }

    /** out[r, c] = a[r, c] (op) b[c] for a, out [rows, cols] and b [cols]; ADD is the bias add. */
    public void binaryRowForward(BinaryOp op, DType dtype, CUdeviceptr a, CUdeviceptr b, CUdeviceptr out, long rows,
                                 long cols, CUstream stream) {
        KernelModule.requireNonNegative("binary_row " + op, rows, cols);
        long n = rows * cols;
        if (n == 0) {
            return;
        }
        launch1d(pick(binaryRowForward, dtype, "binary_row"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(a).ptr(b).i64(rows).i64(cols).i32(op.ordinal()));
    }

    /**
     * out = a (op) b with NumPy broadcasting of aShape and bShape to outShape (each input dimension 1 or equal to
     * the output's, missing leading dimensions broadcast). Fails when more than 8 dimensions remain after
     * dropping size-1 dimensions and merging contiguous ones.
     */
    public void binaryBroadcastForward(BinaryOp op, DType dtype, CUdeviceptr a, Shape aShape, CUdeviceptr b,
                                       Shape bShape, CUdeviceptr out, Shape outShape, CUstream stream) {
        long[] args = BroadcastPlan.pack("binary " + op, outShape, aShape, bShape);
        long n = outShape.size();
        if (n == 0) {
            return;
        }
        launch1d(pick(binaryBroadcastForward, dtype, "binary"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(a).ptr(b).i64(n).struct(args).i32(op.ordinal()));
    }

    /**
     * out = a (op) b with NumPy broadcasting, choosing the kernel: {@link #binaryForward} when both shapes equal
     * the output's, {@link #binaryRowForward} when a has the output's shape and b is one row of its last
     * dimension, else {@link #binaryBroadcastForward}.
     */
    public void binary(BinaryOp op, DType dtype, CUdeviceptr a, Shape aShape, CUdeviceptr b, Shape bShape,
                       CUdeviceptr out, Shape outShape, CUstream stream) {
        if (aShape.equals(outShape) && bShape.equals(outShape)) {
            binaryForward(op, dtype, a, b, out, outShape.size(), stream);
            return;
        }
        long cols = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        if (aShape.equals(outShape) && Shape.isRowOf(bShape, outShape)) {
            binaryRowForward(op, dtype, a, b, out, outShape.size() / cols, cols, stream);
            return;
        }
        binaryBroadcastForward(op, dtype, a, aShape, b, bShape, out, outShape, stream);
    }

    @Override
    public void close() {
        module.close();
    }
}
