package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.ArrayList;
import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/layout.cu, memory and layout moves (definitions: CpuBackend):
 * <ul>
 *   <li>{@link #fill}: out[i] = value, converted to the dtype (int truncates toward zero, saturating);</li>
 *   <li>{@link #cast}: dst[i] = (dst dtype) src[i], float to int truncating toward zero (saturating, NaN to 0);</li>
 *   <li>{@link #narrow}: dst[o, dstStart + j, i] = src[o, srcStart + j, i] for o &lt; outer, j &lt; len, i &lt; inner;</li>
 *   <li>{@link #broadcast}: out = x expanded to outShape (NumPy rules);</li>
 *   <li>{@link #transpose}: out[b, j, i] = x[b, i, j] for batch matrices x [rows, cols], out [cols, rows];</li>
 *   <li>{@link #gatherRows}: out[r] = x[r, idx[r]], x [rows, cols], int idx [rows];</li>
 *   <li>{@link #scatterRows}: dx[r, idx[r]] += dy[r] (not cleared first).</li>
 * </ul>
 * fill, narrow, broadcast and transpose take FLOAT32, FLOAT64 and INT32; gather and scatter the float types.
 */
final class LayoutKernels implements AutoCloseable {

    static final String MODULE = "layout";

    /** 32x32 tiles moved by blocks of 32x8 threads (TILE, TILE_ROWS of layout.cu). */
    private static final int TILE = 32;
    private static final int TILE_ROWS = 8;

    static List<String> kernelNames() {
        List<String> names = new ArrayList<>(
                KernelModule.names(KernelModule.STORAGE_TYPES, "fill", "narrow", "broadcast", "transpose"));
        names.addAll(KernelModule.names(KernelModule.FLOATS, "gather_rows_forward", "gather_rows_backward"));
        for (DType s : KernelModule.STORAGE_TYPES) {
            for (DType d : KernelModule.STORAGE_TYPES) {
                names.add(castName(s, d));
            }
        }
        return names;
    }

    private static String castName(DType src, DType dst) {
        return "cast_" + KernelModule.suffix(src) + "_" + KernelModule.suffix(dst);
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] fill;
    private final KernelModule.Kernel[] narrow;
    private final KernelModule.Kernel[] broadcast;
    private final KernelModule.Kernel[] transpose;
    private final KernelModule.Kernel[] gatherRows;
    private final KernelModule.Kernel[] scatterRows;
    private final KernelModule.Kernel[][] cast;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    LayoutKernels(KernelModule module) {
        this.module = module;
        this.fill = module.family("fill");
        this.narrow = module.family("narrow");
        this.broadcast = module.family("broadcast");
        this.transpose = module.family("transpose");
        this.gatherRows = module.family("gather_rows_forward");
        this.scatterRows = module.family("gather_rows_backward");
        int t = DType.values().length;
        this.cast = new KernelModule.Kernel[t][t];
        for (DType s : KernelModule.STORAGE_TYPES) {
            for (DType d : KernelModule.STORAGE_TYPES) {
                cast[s.ordinal()][d.ordinal()] = module.kernel(castName(s, d));
            }
        }
    }

    /** Loads the module into the current CUDA context. */
    public static LayoutKernels load() {
        return new LayoutKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /**
     * {@link #fill}, but a 32-bit pattern (float32, int32) by a memset, which costs no kernel launch; float64 and
     * bfloat16 by the kernel.
     */
    public void fillFast(DType dtype, CUdeviceptr out, long n, double value, CUstream stream) {
        if (n <= 0 || !(dtype == DType.FLOAT32 || dtype == DType.INT32)) {
            fill(dtype, out, n, value, stream);
            return;
        }
        int bits = dtype == DType.FLOAT32 ? Float.floatToRawIntBits((float) value) : (int) value;
        KernelModule.check(() -> jcuda.driver.JCudaDriver.cuMemsetD32Async(out, bits, n, stream),
                () -> "filling " + n + " " + dtype + " with " + value);
    }

    /** out[i] = value for i &lt; n, as (float) value, value, (int) value or its bfloat16, by a kernel. */
    public void fill(DType dtype, CUdeviceptr out, long n, double value, CUstream stream) {
        KernelModule.requireNonNegative("fill", n);
        if (n == 0) {
            return;
        }
        launch1d(pick(fill, dtype, "fill"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).i64(n).f64(value));
    }

    /** dst[i] = (dstType) src[i] for i &lt; n; equal types copy. */
    public void cast(DType srcType, CUdeviceptr src, DType dstType, CUdeviceptr dst, long n, CUstream stream) {
        KernelModule.requireNonNegative("cast", n);
        if (n == 0) {
            return;
        }
        launch1d(cast[srcType.ordinal()][dstType.ordinal()], blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(dst).ptr(src).i64(n));
    }

    /**
     * dst[o, dstStart + j, i] = src[o, srcStart + j, i] for o &lt; outer, j &lt; len, i &lt; inner, where src has
     * srcDim and dst has dstDim entries along the axis (Backend.narrow; with a zeroed dst, also its backward).
     */
    public void narrow(DType dtype, CUdeviceptr src, long outer, long srcDim, long inner, long srcStart,
                       CUdeviceptr dst, long dstDim, long dstStart, long len, CUstream stream) {
        KernelModule.requireNonNegative("narrow", outer, srcDim, inner, srcStart, dstDim, dstStart, len);
        if (srcStart + len > srcDim || dstStart + len > dstDim) {
            throw new IllegalArgumentException("narrow: [" + srcStart + ", " + (srcStart + len) + ") of " + srcDim
                    + " into [" + dstStart + ", " + (dstStart + len) + ") of " + dstDim + " is out of range");
        }
        long n = outer * len * inner;
        if (n == 0) {
            return;
        }
        launch1d(pick(narrow, dtype, "narrow"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(dst).ptr(src).i64(outer).i64(srcDim).i64(inner).i64(srcStart).i64(dstDim)
                        .i64(dstStart).i64(len));
    }

    /** out = x repeated along the dimensions where xShape has size 1 (or lacks them) up to outShape. */
    public void broadcast(DType dtype, CUdeviceptr x, Shape xShape, CUdeviceptr out, Shape outShape, CUstream stream) {
        long[] args = BroadcastPlan.pack("broadcast", outShape, xShape, null);
        long n = outShape.size();
        if (n == 0) {
            return;
        }
        launch1d(pick(broadcast, dtype, "broadcast"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(x).i64(n).struct(args));
    }

    /** out[b, j, i] = x[b, i, j] for batch matrices x [rows, cols] and out [cols, rows] (out must not be x). */
    public void transpose(DType dtype, CUdeviceptr x, long batch, long rows, long cols, CUdeviceptr out,
                          CUstream stream) {
        KernelModule.requireNonNegative("transpose", batch, rows, cols);
        if (batch * rows * cols == 0) {
            return;
        }
        long tilesR = (rows + TILE - 1) / TILE;
        long tilesC = (cols + TILE - 1) / TILE;
        KernelModule.launch(pick(transpose, dtype, "transpose"), KernelModule.capX(tilesC),
                KernelModule.capYZ(tilesR), KernelModule.capYZ(batch), TILE, TILE_ROWS, 1, 0, stream,
                new KernelArgs().ptr(out).ptr(x).i64(batch).i64(rows).i64(cols));
    }

    /**
     * out[r] = x[r, idx[r]] for x [rows, cols], int idx [rows]. An index outside [0, cols) writes 0 and is
     * reported through {@code errorFlag} (see {@link IndexCheck}; null: not reported).
     */
    public void gatherRows(DType dtype, CUdeviceptr x, CUdeviceptr idx, long rows, long cols, CUdeviceptr out,
                           CUdeviceptr errorFlag, CUstream stream) {
        KernelModule.requireNonNegative("gather", rows, cols);
        if (rows == 0) {
            return;
        }
        launch1d(pick(gatherRows, dtype, "gather"), blocks(rows, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(x).ptr(idx).i64(rows).i64(cols).ptr(errorFlag));
    }

    /**
     * dx[r, idx[r]] += dy[r] for dx [rows, cols], int idx [rows], dy [rows]; dx is not cleared first. An index
     * outside [0, cols) is skipped and reported through {@code errorFlag} (see {@link IndexCheck}; null: not
     * reported).
     */
    public void scatterRows(DType dtype, CUdeviceptr dy, CUdeviceptr idx, long rows, long cols, CUdeviceptr dx,
                            CUdeviceptr errorFlag, CUstream stream) {
        KernelModule.requireNonNegative("scatter", rows, cols);
        if (rows == 0) {
            return;
        }
        launch1d(pick(scatterRows, dtype, "scatter"), blocks(rows, THREADS), THREADS, stream,
                new KernelArgs().ptr(dx).ptr(dy).ptr(idx).i64(rows).i64(cols).ptr(errorFlag));
    }

    @Override
    public void close() {
        module.close();
    }
}
