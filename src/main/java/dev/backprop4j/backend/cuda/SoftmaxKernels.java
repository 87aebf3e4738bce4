package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.capX;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;
import static dev.backprop4j.backend.cuda.KernelModule.rowThreads;

/**
 * Launchers of kernels/softmax.cu, along the middle axis of [outer, n, inner] (definitions: CpuBackend), for
 * FLOAT32 and FLOAT64:
 * <ul>
 *   <li>{@link #softmax}: y = e^(x - m) / sum_j e^(x_j - m), or log_softmax y = (x - m) - ln sum_j e^(x_j - m),
 *       m the maximum along the axis;</li>
 *   <li>{@link #softmaxBackward}: from the output y, softmax dx = y (dy - sum_j dy_j y_j), log_softmax
 *       dx = dy - e^y sum_j dy_j;</li>
 *   <li>{@link #crossEntropyForward}: logits [rows, classes], int labels [rows]: loss[r] = logsumexp(logits[r])
 *       - logits[r, label[r]], probs = softmax(logits), with label checking through an {@link IndexCheck} flag;</li>
 *   <li>{@link #crossEntropyBackward}: dlogits[r, c] = dloss[r] (probs[r, c] - [c == label[r]]).</li>
 * </ul>
 * The normaliser and the backward's dot product accumulate in double for both types; the forward reads x twice
 * (an online max-and-sum pass, then the write). For inner == 1 one block handles each row; otherwise one
 * thread walks each (o, i) column.
 */
final class SoftmaxKernels implements AutoCloseable {

    static final String MODULE = "softmax";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "softmax_forward_rows", "softmax_forward_cols",
                "softmax_backward_rows", "softmax_backward_cols", "crossentropy_forward", "crossentropy_backward");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] forwardRows;
    private final KernelModule.Kernel[] forwardCols;
    private final KernelModule.Kernel[] backwardRows;
    private final KernelModule.Kernel[] backwardCols;
    private final KernelModule.Kernel[] crossEntropyForward;
    private final KernelModule.Kernel[] crossEntropyBackward;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    SoftmaxKernels(KernelModule module) {
        this.module = module;
        this.forwardRows = module.family("softmax_forward_rows");
        this.forwardCols = module.family("softmax_forward_cols");
        this.backwardRows = module.family("softmax_backward_rows");
        this.backwardCols = module.family("softmax_backward_cols");
        this.crossEntropyForward = module.family("crossentropy_forward");
        this.crossEntropyBackward = module.family("crossentropy_backward");
    }

    /** Loads the module into the current CUDA context. */
    public static SoftmaxKernels load() {
        return new SoftmaxKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** y = softmax (or log_softmax when log) of x along the axis of [outer, n, inner]. */
    public void softmax(DType dtype, CUdeviceptr x, long outer, long n, long inner, boolean log, CUdeviceptr y,
                        CUstream stream) {
        KernelModule.requireNonNegative("softmax", outer, n, inner);
        if (outer * n * inner == 0) {
            return;
        }
        if (inner == 1) {
            launch1d(pick(forwardRows, dtype, "softmax"), capX(outer), rowThreads(n), stream,
                    new KernelArgs().ptr(y).ptr(x).i64(outer).i64(n).i32(log ? 1 : 0));
        } else {
            launch1d(pick(forwardCols, dtype, "softmax"), blocks(outer * inner, THREADS), THREADS, stream,
                    new KernelArgs().ptr(y).ptr(x).i64(outer).i64(n).i64(inner).i32(log ? 1 : 0));
        }
    }

    /** dx from the forward output y and dy along the axis of [outer, n, inner]; dx may be dy. */
    public void softmaxBackward(DType dtype, CUdeviceptr y, CUdeviceptr dy, long outer, long n, long inner,
                                boolean log, CUdeviceptr dx, CUstream stream) {
        KernelModule.requireNonNegative("softmax_backward", outer, n, inner);
        if (outer * n * inner == 0) {
            return;
        }
        if (inner == 1) {
            launch1d(pick(backwardRows, dtype, "softmax_backward"), capX(outer), rowThreads(n), stream,
                    new KernelArgs().ptr(dx).ptr(y).ptr(dy).i64(outer).i64(n).i32(log ? 1 : 0));
        } else {
            launch1d(pick(backwardCols, dtype, "softmax_backward"), blocks(outer * inner, THREADS), THREADS, stream,
                    new KernelArgs().ptr(dx).ptr(y).ptr(dy).i64(outer).i64(n).i64(inner).i32(log ? 1 : 0));
        }
    }

    /**
     * loss[r] = scale (ln sum_c e^(logits[r, c] - m) + m - logits[r, label[r]]) and probs[r] = softmax(logits[r]),
     * one block per row. A label outside [0, classes) makes loss[r] NaN and is reported through {@code errorRecord}
     * (see {@link IndexCheck}; null: not reported).
     */
    public void crossEntropyForward(DType dtype, CUdeviceptr logits, CUdeviceptr labels, long rows, long classes,
                                    double scale, CUdeviceptr loss, CUdeviceptr probs, CUdeviceptr errorRecord,
                                    CUstream stream) {
        KernelModule.requireNonNegative("cross_entropy", rows, classes);
        if (rows == 0) {
            return;
        }
        launch1d(pick(crossEntropyForward, dtype, "cross_entropy"), capX(rows), rowThreads(classes), stream,
                new KernelArgs().ptr(loss).ptr(probs).ptr(logits).ptr(labels).i64(rows).i64(classes).f64(scale)
                        .ptr(errorRecord));
    }

    /**
     * dlogits[r, c] = scale dloss[r] (probs[r, c] - [c == label[r]]), computed in double, where dloss has one element
     * per row or, when {@code sharedLoss}, one for all rows; dlogits may be probs.
     */
    public void crossEntropyBackward(DType dtype, CUdeviceptr probs, CUdeviceptr labels, CUdeviceptr dloss,
                                     boolean sharedLoss, double scale, long rows, long classes, CUdeviceptr dlogits,
                                     CUstream stream) {
        KernelModule.requireNonNegative("cross_entropy_backward", rows, classes);
        if (rows * classes == 0) {
            return;
        }
        launch1d(pick(crossEntropyBackward, dtype, "cross_entropy_backward"), capX(rows),
                Math.min(THREADS, rowThreads(classes * 4L)), stream,
                new KernelArgs().ptr(dlogits).ptr(probs).ptr(labels).ptr(dloss).i64(sharedLoss ? 0 : 1).f64(scale)
                        .i64(rows).i64(classes));
    }

    @Override
    public void close() {
        module.close();
    }
}
