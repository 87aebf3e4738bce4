package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/optimizer.cu, fused in-place updates of n parameters (formulas: Backend.sgdStep and
 * Backend.adamStep, as PyTorch), FLOAT32 and FLOAT64, evaluated in the buffer's type in the CPU's order:
 * <ul>
 *   <li>{@link #sgdStep}: g = grad + wd p; with momentum v = firstStep ? g : momentum v + (1 - dampening) g and
 *       d = nesterov ? g + momentum v : v, else d = g; p -= lr d;</li>
 *   <li>{@link #adamStep}: decoupled (AdamW) p -= lr wd p, else g = grad + wd p; m = b1 m + (1 - b1) g;
 *       v = b2 v + (1 - b2) g^2; p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).</li>
 * </ul>
 */
final class OptimizerKernels implements AutoCloseable {

    static final String MODULE = "optimizer";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "sgd_step", "adam_step");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] sgdStep;
    private final KernelModule.Kernel[] adamStep;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    OptimizerKernels(KernelModule module) {
        this.module = module;
        this.sgdStep = module.family("sgd_step");
        this.adamStep = module.family("adam_step");
    }

    /** Loads the module into the current CUDA context. */
    public static OptimizerKernels load() {
        return new OptimizerKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** One SGD step on param [n] from grad [n]; velocity [n] is read and written when momentum != 0, else may be null. */
    public void sgdStep(DType dtype, CUdeviceptr param, CUdeviceptr grad, CUdeviceptr velocity, long n, double lr,
                        double momentum, double dampening, double weightDecay, boolean nesterov, boolean firstStep,
                        CUstream stream) {
        KernelModule.requireNonNegative("sgd_step", n);
        if (momentum != 0 && velocity == null) {
            throw new IllegalArgumentException("sgd_step: momentum " + momentum + " needs a velocity buffer");
        }
        if (n == 0) {
            return;
        }
        launch1d(pick(sgdStep, dtype, "sgd_step"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(param).ptr(velocity).ptr(grad).i64(n).f64(lr).f64(momentum).f64(dampening)
                        .f64(weightDecay).i32(nesterov ? 1 : 0).i32(firstStep ? 1 : 0));
    }

    /**
     * One Adam (or AdamW when decoupled) step on param [n] with moments m, v [n]; step is the 1-based step count t
     * of the bias corrections 1 - b^t, computed here as the CPU backend does.
     */
    public void adamStep(DType dtype, CUdeviceptr param, CUdeviceptr grad, CUdeviceptr m, CUdeviceptr v, long n,
                         double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled,
                         long step, CUstream stream) {
        KernelModule.requireNonNegative("adam_step", n);
        if (n == 0) {
            return;
        }
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        launch1d(pick(adamStep, dtype, "adam_step"), blocks(n, THREADS), THREADS, stream,
                new KernelArgs().ptr(param).ptr(m).ptr(v).ptr(grad).i64(n).f64(lr).f64(beta1).f64(beta2).f64(eps)
                        .f64(weightDecay).i32(decoupled ? 1 : 0).f64(bc1).f64(bc2));
    }

    @Override
    public void close() {
        module.close();
    }
}
