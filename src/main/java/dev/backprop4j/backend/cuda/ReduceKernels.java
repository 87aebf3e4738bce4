package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.tensor.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.ArrayList;
import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.capX;
import static dev.backprop4j.backend.cuda.KernelModule.capYZ;
import static dev.backprop4j.backend.cuda.KernelModule.launch;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;
import static dev.backprop4j.backend.cuda.KernelModule.rowThreads;

/**
 * Launchers of kernels/reduce.cu, reductions over the middle axis of x viewed as [outer, n, inner]
 * (definitions: CpuBackend.reduce / argmax / countEqual):
 * <ul>
 *   <li>{@link #reduce}: out[o, i] = sum (or max) over j &lt; n of x[o, j, i], out [outer, inner]; the sum of
 *       nothing is 0, the max of nothing -inf, and a NaN anywhere makes the max NaN;</li>
 *   <li>{@link #argmax}: int out[o, i] = the first j maximising x[o, j, i] (NaN ignored unless at j = 0);</li>
 *   <li>{@link #countEqual}: the number of i &lt; n with a[i] == b[i], int buffers, into a 64-bit device counter.</li>
 * </ul>
 * Sums and maxima accumulate in double for float32 and float64 alike. When inner == 1 (the last axis) one
 * block reduces each row (rows_ kernels); otherwise threads own columns i, reading coalesced along i, and for
 * reduce split j among up to 32 partials per column (cols_ kernels; e.g. the bias gradient, the sum over
 * axis 0 of [rows, cols], is outer = 1, n = rows, inner = cols). Each row or column group is reduced by one
 * block, so a single very long row uses one multiprocessor. Results are deterministic for given sizes.
 */
public final class ReduceKernels implements AutoCloseable {

    static final String MODULE = "reduce";

    static List<String> kernelNames() {
        List<String> names = new ArrayList<>(KernelModule.names(KernelModule.FLOATS, "reduce_rows", "reduce_cols",
                "argmax_rows", "argmax_cols"));
        names.add("count_equal_i32");
        return names;
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] reduceRows;
    private final KernelModule.Kernel[] reduceCols;
    private final KernelModule.Kernel[] argmaxRows;
    private final KernelModule.Kernel[] argmaxCols;
    private final KernelModule.Kernel countEqual;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    ReduceKernels(KernelModule module) {
        this.module = module;
        this.reduceRows = module.family("reduce_rows");
        this.reduceCols = module.family("reduce_cols");
        this.argmaxRows = module.family("argmax_rows");
        this.argmaxCols = module.family("argmax_cols");
        this.countEqual = module.kernel("count_equal_i32");
    }

    /** Loads the module into the current CUDA context. */
    public static ReduceKernels load() {
        return new ReduceKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** out[o, i] = reduce over j &lt; n of x[o, j, i] for out [outer, inner], x [outer, n, inner]. */
    public void reduce(ReduceOp op, DType dtype, CUdeviceptr x, long outer, long n, long inner, CUdeviceptr out,
                       CUstream stream) {
        KernelModule.requireNonNegative("reduce " + op, outer, n, inner);
        if (outer * inner == 0) {
            return;
        }
        if (inner == 1) {
            launch1d(pick(reduceRows, dtype, "reduce"), capX(outer), rowThreads(n), stream,
                    new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n).i32(op.ordinal()));
        } else {
            int partials = Integer.highestOneBit((int) Math.max(1, Math.min(32, (n + 3) / 4)));
            launch(pick(reduceCols, dtype, "reduce"), capX((inner + 31) / 32), capYZ(outer), 1, 32, partials, 1, 0,
                    stream, new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n).i64(inner).i32(op.ordinal()));
        }
    }

    /** int out[o, i] = the first j &lt; n maximising x[o, j, i]; 0 when n is 0. */
    public void argmax(DType dtype, CUdeviceptr x, long outer, long n, long inner, CUdeviceptr out, CUstream stream) {
        KernelModule.requireNonNegative("argmax", outer, n, inner);
        if (outer * inner == 0) {
            return;
        }
        if (inner == 1) {
            launch1d(pick(argmaxRows, dtype, "argmax"), capX(outer), rowThreads(n), stream,
                    new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n));
        } else {
            launch1d(pick(argmaxCols, dtype, "argmax"), blocks(outer * inner, THREADS), THREADS, stream,
                    new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n).i64(inner));
        }
    }

    /**
     * Sets the 64-bit device counter {@code count} (8 bytes) to the number of i &lt; n with a[i] == b[i] for int
     * buffers a, b; asynchronous: the caller reads the counter after the stream's work is done.
     */
    public void countEqual(CUdeviceptr a, CUdeviceptr b, long n, CUdeviceptr count, CUstream stream) {
        KernelModule.requireNonNegative("count_equal", n);
        KernelModule.clearWords(countEqual, count, 2, stream);
        if (n == 0) {
            return;
        }
        launch1d(countEqual, Math.min(blocks(n, THREADS), 1024), THREADS, stream,
                new KernelArgs().ptr(count).ptr(a).ptr(b).i64(n));
    }

    @Override
    public void close() {
        module.close();
    }
}
