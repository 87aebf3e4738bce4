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
 * Launchers of kernels/norm.cu, FLOAT32 and FLOAT64 (definitions: Backend.layerNorm and layerNormBackward):
 * <ul>
 *   <li>{@link #layerNorm}: one block per row of [rows, cols]: y = (x - mean) rstd gamma + beta, with mean and rstd
 *       written per row;</li>
 *   <li>{@link #layerNormBackward}: dx one block per row, then dgamma and dbeta one thread per column over the rows
 *       in order (two launches; either is skipped when its outputs are not wanted).</li>
 * </ul>
 * Sums in double for both types.
 */
final class NormKernels implements AutoCloseable {

    static final String MODULE = "norm";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "layernorm_forward", "layernorm_backward_input",
                "layernorm_backward_params");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] forward;
    private final KernelModule.Kernel[] backwardInput;
    private final KernelModule.Kernel[] backwardParams;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    NormKernels(KernelModule module) {
        this.module = module;
        this.forward = module.family("layernorm_forward");
        this.backwardInput = module.family("layernorm_backward_input");
        this.backwardParams = module.family("layernorm_backward_params");
    }

    /** Loads the module into the current CUDA context. */
    public static NormKernels load() {
        return new NormKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** y, mean and rstd from x [rows, cols] and gamma, beta [cols] (null: none). */
    public void layerNorm(DType dtype, CUdeviceptr x, CUdeviceptr gamma, CUdeviceptr beta, long rows, long cols,
                          double eps, CUdeviceptr y, CUdeviceptr mean, CUdeviceptr rstd, CUstream stream) {
        KernelModule.requireNonNegative("layer_norm", rows, cols);
        if (rows == 0) {
            return;
        }
        launch1d(pick(forward, dtype, "layer_norm"), capX(rows), rowThreads(cols), stream,
                new KernelArgs().ptr(y).ptr(mean).ptr(rstd).ptr(x).ptr(gamma).ptr(beta).i64(rows).i64(cols).f64(eps));
    }

    /** dx (null: skipped), then dgamma and dbeta (both null: skipped) from x, mean, rstd, gamma and dy. */
    public void layerNormBackward(DType dtype, CUdeviceptr x, CUdeviceptr mean, CUdeviceptr rstd, CUdeviceptr gamma,
                                  CUdeviceptr dy, long rows, long cols, CUdeviceptr dx, CUdeviceptr dgamma,
                                  CUdeviceptr dbeta, CUstream stream) {
        KernelModule.requireNonNegative("layer_norm_backward", rows, cols);
        if (cols == 0) {
            return;
        }
        if (dx != null && rows > 0) {
            launch1d(pick(backwardInput, dtype, "layer_norm_backward"), capX(rows), rowThreads(cols), stream,
                    new KernelArgs().ptr(dx).ptr(x).ptr(mean).ptr(rstd).ptr(gamma).ptr(dy).i64(rows).i64(cols));
        }
        if (dgamma != null || dbeta != null) {
            launch1d(pick(backwardParams, dtype, "layer_norm_backward"), blocks(cols, THREADS), THREADS, stream,
                    new KernelArgs().ptr(dgamma).ptr(dbeta).ptr(x).ptr(mean).ptr(rstd).ptr(dy).i64(rows).i64(cols));
        }
    }

    @Override
    public void close() {
        module.close();
    }
}
