package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.ArrayList;
import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.capX;
import static dev.backprop4j.backend.cuda.KernelModule.capYZ;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.launch;
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
 * axis 0 of [rows, cols], is outer = 1, n = rows, inner = cols). When that would give fewer than
 * {@link #TARGET_BLOCKS} blocks for a long axis (a sum over a whole tensor, as in global-norm clipping, has one
 * row), {@link #parts} splits the axis into chunks: a _partial launch writes one double per (row or column, chunk)
 * into a scratch buffer and a _finish launch combines them. Results are deterministic for given sizes.
 */
final class ReduceKernels implements AutoCloseable {

    static final String MODULE = "reduce";

    /** Blocks a reduction should give the device at least: two per multiprocessor of an H100 or H200 (132). */
    static final long TARGET_BLOCKS = 264;

    static List<String> kernelNames() {
        List<String> names = new ArrayList<>(KernelModule.names(KernelModule.FLOATS, "reduce_rows", "reduce_cols",
                "reduce_rows_partial", "reduce_rows_finish", "reduce_cols_partial", "reduce_cols_finish",
                "argmax_rows", "argmax_cols", "accumulate_metrics"));
        names.add("count_equal_i32");
        return names;
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] reduceRows;
    private final KernelModule.Kernel[] reduceCols;
    private final KernelModule.Kernel[] rowsPartial;
    private final KernelModule.Kernel[] rowsFinish;
    private final KernelModule.Kernel[] colsPartial;
    private final KernelModule.Kernel[] colsFinish;
    private final KernelModule.Kernel[] argmaxRows;
    private final KernelModule.Kernel[] argmaxCols;
    private final KernelModule.Kernel countEqual;
    private final KernelModule.Kernel[] accumulateMetrics;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    ReduceKernels(KernelModule module) {
        this.module = module;
        this.reduceRows = module.family("reduce_rows");
        this.reduceCols = module.family("reduce_cols");
        this.rowsPartial = module.family("reduce_rows_partial");
        this.rowsFinish = module.family("reduce_rows_finish");
        this.colsPartial = module.family("reduce_cols_partial");
        this.colsFinish = module.family("reduce_cols_finish");
        this.argmaxRows = module.family("argmax_rows");
        this.argmaxCols = module.family("argmax_cols");
        this.countEqual = module.kernel("count_equal_i32");
        this.accumulateMetrics = module.family("accumulate_metrics");
    }

    /** Loads the module into the current CUDA context. */
    public static ReduceKernels load() {
        return new ReduceKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /**
     * Into how many chunks to split the reduced axis (1: none): enough for about {@link #TARGET_BLOCKS} blocks, each
     * chunk keeping at least 4096 elements of a row or 512 of a column.
     */
    static int parts(long outer, long n, long inner) {
        long blocks = inner == 1 ? outer : outer * ((inner + 31) / 32);
        if (blocks >= TARGET_BLOCKS || blocks == 0) {
            return 1;
        }
        long want = (TARGET_BLOCKS + blocks - 1) / blocks;
        long most = n / (inner == 1 ? 4096 : 512);
        return (int) Math.max(1, Math.min(Math.min(want, most), 1024));
    }

    /**
     * out[o, i] = reduce over j &lt; n of x[o, j, i] for out [outer, inner], x [outer, n, inner], in one launch, or,
     * when {@link #parts} is above 1, two, through {@code scratch}: outer * parts * inner doubles (unused otherwise).
     */
    public void reduce(ReduceOp op, DType dtype, CUdeviceptr x, long outer, long n, long inner, CUdeviceptr out,
                       CUdeviceptr scratch, CUstream stream) {
        KernelModule.requireNonNegative("reduce " + op, outer, n, inner);
        if (outer * inner == 0) {
            return;
        }
        int parts = parts(outer, n, inner);
        if (parts > 1 && scratch == null) {
            throw new IllegalArgumentException("reduce " + op + ": [" + outer + ", " + n + ", " + inner + "] is split in "
                    + parts + " parts and needs a scratch buffer");
        }
        if (inner == 1 && parts == 1) {
            launch1d(pick(reduceRows, dtype, "reduce"), capX(outer), rowThreads(n), stream,
                    new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n).i32(op.ordinal()));
        } else if (inner == 1) {
            long chunk = (n + parts - 1) / parts;
            launch1d(pick(rowsPartial, dtype, "reduce"), capX(outer * parts), rowThreads(chunk), stream,
                    new KernelArgs().ptr(scratch).ptr(x).i64(outer).i64(n).i64(parts).i32(op.ordinal()));
            launch1d(pick(rowsFinish, dtype, "reduce"), capX(outer), rowThreads(parts), stream,
                    new KernelArgs().ptr(out).ptr(scratch).i64(outer).i64(parts).i32(op.ordinal()));
        } else if (parts == 1) {
            launch(pick(reduceCols, dtype, "reduce"), capX((inner + 31) / 32), capYZ(outer), 1, 32, colPartials(n), 1,
                    0, stream, new KernelArgs().ptr(out).ptr(x).i64(outer).i64(n).i64(inner).i32(op.ordinal()));
        } else {
            long chunk = (n + parts - 1) / parts;
            launch(pick(colsPartial, dtype, "reduce"), capX((inner + 31) / 32), capYZ(outer * parts), 1, 32,
                    colPartials(chunk), 1, 0, stream,
                    new KernelArgs().ptr(scratch).ptr(x).i64(outer).i64(n).i64(inner).i64(parts).i32(op.ordinal()));
            launch(pick(colsFinish, dtype, "reduce"), capX((inner + 31) / 32), capYZ(outer), 1, 32, colPartials(parts),
                    1, 0, stream,
                    new KernelArgs().ptr(out).ptr(scratch).i64(outer).i64(parts).i64(inner).i32(op.ordinal()));
        }
    }

    /** Threads along j per column for a cols launch: about 4 elements each, a power of two up to 32. */
    private static int colPartials(long n) {
        return Integer.highestOneBit((int) Math.max(1, Math.min(32, (n + 3) / 4)));
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

    /**
     * metrics (double [3]) += {loss[0] rows, the rows whose first largest logit is at their label, rows}, for the
     * batch-mean loss (one element), logits [rows, classes] and int labels [rows]; one block.
     */
    public void accumulateMetrics(DType dtype, CUdeviceptr loss, CUdeviceptr logits, CUdeviceptr labels, long rows,
                                  long classes, CUdeviceptr metrics, CUstream stream) {
        KernelModule.requireNonNegative("accumulate_metrics", rows, classes);
        launch1d(pick(accumulateMetrics, dtype, "accumulate_metrics"), 1, THREADS, stream,
                new KernelArgs().ptr(metrics).ptr(loss).ptr(logits).ptr(labels).i64(rows).i64(classes));
    }

    /**
     * out[i] (T) = sum over k &lt; parts of part[k, i] (doubles) for i &lt; cols, in k order: the second launch of
     * a column sum split in parts, such as {@link ElementwiseKernels#biasActivationBackward}'s.
     */
    public void finishColumnSums(DType dtype, CUdeviceptr part, long parts, long cols, CUdeviceptr out,
                                 CUstream stream) {
        launch(pick(colsFinish, dtype, "reduce"), capX((cols + 31) / 32), 1, 1, 32, colPartials(parts), 1, 0, stream,
                new KernelArgs().ptr(out).ptr(part).i64(1).i64(parts).i64(cols).i32(ReduceOp.SUM.ordinal()));
    }

    @Override
    public void close() {
        module.close();
    }
}
