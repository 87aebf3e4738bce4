package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/optimizer.cu: fused in-place updates of a list of parameters in one launch per
 * {@link #LIST_MAX} of them (formulas: Backend.sgdStep and Backend.adamStep, as PyTorch), FLOAT32 and FLOAT64,
 * evaluated in the buffers' type in the CPU's order. The learning rate and each parameter's step count are read
 * from {@code hyper} on the device (FLOAT64 {lr, step_0, step_1, ...}), so a captured CUDA graph replays the update
 * with the values the host writes there before each replay.
 */
final class OptimizerKernels implements AutoCloseable {

    static final String MODULE = "optimizer";

    /** Tensors per launch (LIST_MAX in optimizer.cu). */
    static final int LIST_MAX = 24;

    /** Elements per block (LIST_BLOCK in optimizer.cu). */
    static final long LIST_BLOCK = 2048;

    private static final int THREADS = 256;

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

    /**
     * The device addresses and sizes of the tensors of one update: parameter i has {@code lengths[i]} elements at
     * {@code params[i]}, its gradient at {@code grads[i]}, and its state at {@code state1[i]}, {@code state2[i]}
     * (0, or a null array, where the optimizer keeps none).
     */
    record Tensors(long[] lengths, long[] params, long[] grads, long[] state1, long[] state2) {
        int count() {
            return lengths.length;
        }
    }

    /**
     * The TensorList struct of optimizer.cu for tensors [from, to): count, index0, n[], start[], and the addresses of
     * param[], grad[], state1[], state2[]; returns it with the grid (blocks) in an extra last slot.
     */
    static long[] tensorList(Tensors t, int from, int to) {
        int count = to - from;
        long[] f = new long[2 + LIST_MAX + LIST_MAX + 1 + 4 * LIST_MAX + 1];
        f[0] = count;
        f[1] = from;
        int n = 2;
        int start = n + LIST_MAX;
        int addr = start + LIST_MAX + 1;
        long blocks = 0;
        for (int i = 0; i < count; i++) {
            long len = t.lengths()[from + i];
            f[n + i] = len;
            f[start + i] = blocks;
            blocks += (len + LIST_BLOCK - 1) / LIST_BLOCK;
            f[addr + i] = t.params()[from + i];
            f[addr + LIST_MAX + i] = t.grads()[from + i];
            f[addr + 2 * LIST_MAX + i] = t.state1() == null ? 0 : t.state1()[from + i];
            f[addr + 3 * LIST_MAX + i] = t.state2() == null ? 0 : t.state2()[from + i];
        }
        f[start + count] = blocks;
        f[f.length - 1] = blocks;
        return f;
    }

    /** SGD on every tensor (see the class comment); state1 holds the velocities, needed when momentum is not 0. */
    public void sgdStep(DType dtype, Tensors t, CUdeviceptr hyper, double momentum, double dampening,
                        double weightDecay, boolean nesterov, CUstream stream) {
        if (momentum != 0 && (t.state1() == null || java.util.Arrays.stream(t.state1()).anyMatch(a -> a == 0))) {
            throw new IllegalArgumentException("sgd_step: momentum " + momentum + " needs a velocity buffer per parameter");
        }
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            launch(pick(sgdStep, dtype, "sgd_step"), list, stream, new KernelArgs().struct(structOf(list)).ptr(hyper)
                    .f64(momentum).f64(dampening).f64(weightDecay).i32(nesterov ? 1 : 0));
        }
    }

    /** Adam, or AdamW when decoupled, on every tensor with moments m in state1 and v in state2. */
    public void adamStep(DType dtype, Tensors t, CUdeviceptr hyper, double beta1, double beta2, double eps,
                         double weightDecay, boolean decoupled, CUstream stream) {
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            launch(pick(adamStep, dtype, "adam_step"), list, stream, new KernelArgs().struct(structOf(list)).ptr(hyper)
                    .f64(beta1).f64(beta2).f64(eps).f64(weightDecay).i32(decoupled ? 1 : 0));
        }
    }

    /** The struct's fields without the trailing grid. */
    private static long[] structOf(long[] list) {
        return java.util.Arrays.copyOf(list, list.length - 1);
    }

    private static void launch(KernelModule.Kernel k, long[] list, CUstream stream, KernelArgs args) {
        long blocks = list[list.length - 1];
        if (blocks == 0) {
            return;
        }
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(k.name() + ": " + blocks + " blocks exceed the grid limit");
        }
        launch1d(k, (int) blocks, THREADS, stream, args);
    }

    @Override
    public void close() {
        module.close();
    }
}
