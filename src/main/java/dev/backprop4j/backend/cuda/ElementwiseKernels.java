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
import static dev.backprop4j.backend.cuda.KernelModule.launch;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/elementwise.cu, for FLOAT32 and FLOAT64 buffers of n contiguous elements:
 * <ul>
 *   <li>{@link #unaryForward}: out[i] = f(x[i]; p1, p2) for a {@link UnaryOp} (formulas of CpuMath.forward);</li>
 *   <li>{@link #unaryBackward}: dx[i] = dy[i] f'(x[i]), from x and / or the forward output y (CpuMath.derivative);</li>
 *   <li>{@link #binaryForward}: out[i] = a[i] (op) b[i], all of one shape;</li>
 *   <li>{@link #binaryRowForward}: out[r, c] = a[r, c] (op) b[c], a and out [rows, cols], b [cols] (bias add);</li>
 *   <li>{@link #binaryBroadcastForward}: out = a (op) b with NumPy broadcasting, up to 8 dimensions after merging;</li>
 *   <li>{@link #binary}: picks one of the three binary kernels from the shapes;</li>
 *   <li>{@link #biasActivation}: a dense layer's epilogue, z += bias along rows, y = f(z), in one pass;</li>
 *   <li>{@link #biasActivationBackward}: dz = dy f'(z) and the bias gradient (column sums of dz) in one pass.</li>
 * </ul>
 * Math runs in the buffer's type (float math for float32). Outputs may alias inputs of the same shape. Java
 * parameters follow {@link dev.backprop4j.backend.Backend}'s order (inputs, then outputs, then sizes, then the
 * stream); the kernels themselves take outputs first.
 */
final class ElementwiseKernels implements AutoCloseable {

    static final String MODULE = "elementwise";

    static List<String> kernelNames() {
        List<String> names = new java.util.ArrayList<>(KernelModule.names(KernelModule.FLOATS, "unary_forward",
                "unary_backward", "binary_forward", "binary_row_forward", "binary_broadcast_forward",
                "bias_act_forward", "bias_act_backward"));
        names.addAll(List.of("bias_act_half_forward_f32", "bias_act_half_backward_f32"));
        return names;
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] unaryForward;
    private final KernelModule.Kernel[] unaryBackward;
    private final KernelModule.Kernel[] binaryForward;
    private final KernelModule.Kernel[] binaryRowForward;
    private final KernelModule.Kernel[] binaryBroadcastForward;
    private final KernelModule.Kernel[] biasActForward;
    private final KernelModule.Kernel[] biasActBackward;
    /** The epilogue and its backward of float32 with y in bfloat16 (autocast's activations). */
    private final KernelModule.Kernel biasActHalfForward;
    private final KernelModule.Kernel biasActHalfBackward;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    ElementwiseKernels(KernelModule module) {
        this.module = module;
        this.unaryForward = module.family("unary_forward");
        this.unaryBackward = module.family("unary_backward");
        this.binaryForward = module.family("binary_forward");
        this.binaryRowForward = module.family("binary_row_forward");
        this.binaryBroadcastForward = module.family("binary_broadcast_forward");
        this.biasActForward = module.family("bias_act_forward");
        this.biasActBackward = module.family("bias_act_backward");
        this.biasActHalfForward = module.kernel("bias_act_half_forward_f32");
        this.biasActHalfBackward = module.kernel("bias_act_half_backward_f32");
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

    /** Blocks a bias backward aims for: about 4 per SM of a large GPU, so the column sums keep every SM busy. */
    static final long BIAS_TARGET_BLOCKS = 1056;

    /**
     * Into how many chunks of rows {@link #biasActivationBackward} splits [rows, cols]: enough for about
     * {@link #BIAS_TARGET_BLOCKS} blocks of 32 columns, each chunk keeping at least 64 rows.
     */
    static int biasChunks(long rows, long cols) {
        long tiles = (cols + 31) / 32;
        long want = (BIAS_TARGET_BLOCKS + tiles - 1) / tiles;
        return (int) Math.max(1, Math.min(Math.min(want, rows / 64), 65535));
    }

    /**
     * z[r, c] += bias[c] (bias may be null), then y = f(z; p1, p2), or y = z when op is null, for z, y
     * [rows, cols]; y may be z (z is then not kept); plus residual[r, c] when residual is not null (op null). y is
     * of {@code yType}: dtype, or bfloat16 for a float32 z (the result rounded once, to nearest even).
     */
    public void biasActivation(UnaryOp op, DType dtype, CUdeviceptr z, CUdeviceptr bias, CUdeviceptr residual,
                               long rows, long cols, double p1, double p2, CUdeviceptr y, DType yType,
                               CUstream stream) {
        KernelModule.requireNonNegative("bias_activation", rows, cols);
        if (residual != null && op != null) {
            throw new IllegalArgumentException("biasActivation: a residual is added to a layer without activation, "
                    + "got " + op);
        }
        long n = rows * cols;
        if (n == 0) {
            return;
        }
        launch1d(epilogue(biasActForward, biasActHalfForward, dtype, yType, "bias_activation"), blocks(n, THREADS),
                THREADS, stream,
                new KernelArgs().ptr(y).ptr(z).ptr(bias).ptr(residual).i64(rows).i64(cols)
                        .i32(op == null ? -1 : op.ordinal())
                        .f64(p1).f64(p2));
    }

    /**
     * dz = dy f'(z or y) (dz = dy when op is null, written only when dz is not null) and dbias[c] = the sum over rows
     * of dz[r, c] (when dbias is not null), for [rows, cols]. When {@link #biasChunks} is above 1 the column sums go
     * through {@code scratch} (chunks * cols doubles) and {@code finish} adds them up (a second launch). y is of
     * {@code yType}: dtype, or bfloat16 for float32 (read as float).
     */
    public void biasActivationBackward(UnaryOp op, DType dtype, CUdeviceptr z, CUdeviceptr y, DType yType,
                                       CUdeviceptr dy, long rows, long cols, double p1, double p2, CUdeviceptr dz,
                                       CUdeviceptr dbias, CUdeviceptr scratch, ReduceKernels finish,
                                       CUstream stream) {
        KernelModule.requireNonNegative("bias_activation_backward", rows, cols);
        if (op != null && ((op.derivativeNeedsInput() && z == null && !(op == UnaryOp.RELU && y != null))
                || (op.derivativeNeedsOutput() && y == null))) {
            throw new IllegalArgumentException("bias_activation_backward " + op.opName() + ": the derivative needs "
                    + (op.derivativeNeedsInput() ? "the pre-activation z" : "the output y") + ", which is null");
        }
        if (rows * cols == 0) {
            return;
        }
        int chunks = biasChunks(rows, cols); // the same grid with or without sums (part null without)
        if (chunks > 1 && dbias != null && scratch == null) {
            throw new IllegalArgumentException("bias_activation_backward: [" + rows + ", " + cols + "] is split in "
                    + chunks + " chunks and needs a scratch buffer");
        }
        launch(epilogue(biasActBackward, biasActHalfBackward, dtype, yType, "bias_activation_backward"),
                KernelModule.capX((cols + 31) / 32), KernelModule.capYZ(chunks), 1, 32, 8, 1, 0, stream,
                new KernelArgs().ptr(dz).ptr(dbias).ptr(chunks > 1 && dbias != null ? scratch : null).ptr(z).ptr(y)
                        .ptr(dy).i64(rows).i64(cols).i64(chunks).i32(op == null ? -1 : op.ordinal()).f64(p1).f64(p2));
        if (chunks > 1 && dbias != null) {
            finish.finishColumnSums(dtype, scratch, chunks, cols, dbias, stream);
        }
    }

    /** The epilogue kernel of dtype, or the half one for float32 with a bfloat16 y. */
    private static KernelModule.Kernel epilogue(KernelModule.Kernel[] family, KernelModule.Kernel half, DType dtype,
                                                DType yType, String op) {
        if (yType == null || yType == dtype) {
            return pick(family, dtype, op);
        }
        if (dtype == DType.FLOAT32 && yType == DType.BFLOAT16) {
            return half;
        }
        throw new IllegalArgumentException(op + ": no CUDA kernel for " + dtype + " with y of " + yType);
    }

    @Override
    public void close() {
        module.close();
    }
}
