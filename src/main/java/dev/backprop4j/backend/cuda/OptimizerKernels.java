package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/optimizer.cu, each over a list of tensors in one launch per {@link #LIST_MAX} of them,
 * FLOAT32 and FLOAT64, evaluated in the buffers' type in the CPU's order: the fused in-place updates (formulas:
 * Backend.sgdStep and Backend.adamStep, as PyTorch), which read the learning rate from the device and count each
 * parameter's steps there (the launch's last block stores the new counts), and gradient clipping by global norm
 * (Backend.clipGradNorm: partial sums of squares per block, finished by the last block of the last launch, then
 * the scaling). Nothing is written by the host between two replays of a graph that captured them.
 */
final class OptimizerKernels implements AutoCloseable {

    static final String MODULE = "optimizer";

    /** Tensors per launch (LIST_MAX in optimizer.cu). */
    static final int LIST_MAX = 24;

    /** Elements per block (LIST_BLOCK in optimizer.cu). */
    static final long LIST_BLOCK = 2048;

    private static final int THREADS = 256;

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "sgd_step", "adam_step", "grad_norm", "grad_clip");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] sgdStep;
    private final KernelModule.Kernel[] adamStep;
    private final KernelModule.Kernel[] gradNorm;
    private final KernelModule.Kernel[] gradClip;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    OptimizerKernels(KernelModule module) {
        this.module = module;
        this.sgdStep = module.family("sgd_step");
        this.adamStep = module.family("adam_step");
        this.gradNorm = module.family("grad_norm");
        this.gradClip = module.family("grad_clip");
    }

    /** Loads the module into the current CUDA context. */
    public static OptimizerKernels load() {
        return new OptimizerKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /**
     * The device addresses and sizes of the tensors of one launch list: tensor i has {@code lengths[i]} elements at
     * {@code params[i]}, its gradient at {@code grads[i]}, its state at {@code state1[i]}, {@code state2[i]} and its
     * step count (a double) at {@code steps[i]} (0, or a null array, where there is none).
     */
    record Tensors(long[] lengths, long[] params, long[] grads, long[] state1, long[] state2, long[] steps) {
        int count() {
            return lengths.length;
        }

        /** The parameters that have a gradient, with their state and the addresses of their step counts. */
        static Tensors updated(Buffer[] params, Buffer[] grads, Buffer[] s1, Buffer[] s2, Buffer steps) {
            int n = 0;
            for (Buffer g : grads) {
                n += g == null ? 0 : 1;
            }
            long[][] fields = new long[6][n];
            CudaBuffer counts = (CudaBuffer) steps;
            int k = 0;
            for (int i = 0; i < params.length; i++) {
                if (grads[i] == null) {
                    continue;
                }
                if (grads[i].length() != params[i].length() || grads[i].dtype() != params[i].dtype()) {
                    throw new IllegalArgumentException("optimizer step: gradient " + grads[i] + " does not match "
                            + "parameter " + params[i]);
                }
                fields[0][k] = params[i].length();
                fields[1][k] = ((CudaBuffer) params[i]).address();
                fields[2][k] = ((CudaBuffer) grads[i]).address();
                fields[3][k] = s1 == null || s1[i] == null ? 0 : ((CudaBuffer) s1[i]).address();
                fields[4][k] = s2 == null || s2[i] == null ? 0 : ((CudaBuffer) s2[i]).address();
                fields[5][k] = counts.address() + (long) i * Double.BYTES;
                k++;
            }
            return new Tensors(fields[0], fields[1], fields[2], s1 == null ? null : fields[3],
                    s2 == null ? null : fields[4], fields[5]);
        }

        /** Gradients alone (clipping). */
        static Tensors gradients(Buffer[] grads) {
            long[] lengths = new long[grads.length];
            long[] addresses = new long[grads.length];
            for (int i = 0; i < grads.length; i++) {
                lengths[i] = grads[i].length();
                addresses[i] = ((CudaBuffer) grads[i]).address();
            }
            return new Tensors(lengths, null, addresses, null, null, null);
        }
    }

    /**
     * The TensorList struct of optimizer.cu for tensors [from, to): count, n[], start[], and the addresses of
     * param[], grad[], state1[], state2[], step[]; returns it with the grid (blocks, at least 1) in an extra last
     * slot.
     */
    static long[] tensorList(Tensors t, int from, int to) {
        int count = to - from;
        long[] f = new long[1 + LIST_MAX + LIST_MAX + 1 + 5 * LIST_MAX + 1];
        f[0] = count;
        int n = 1;
        int start = n + LIST_MAX;
        int addr = start + LIST_MAX + 1;
        long blocks = 0;
        for (int i = 0; i < count; i++) {
            long len = t.lengths()[from + i];
            f[n + i] = len;
            f[start + i] = blocks;
            blocks += (len + LIST_BLOCK - 1) / LIST_BLOCK;
            f[addr + i] = t.params() == null ? 0 : t.params()[from + i];
            f[addr + LIST_MAX + i] = t.grads()[from + i];
            f[addr + 2 * LIST_MAX + i] = t.state1() == null ? 0 : t.state1()[from + i];
            f[addr + 3 * LIST_MAX + i] = t.state2() == null ? 0 : t.state2()[from + i];
            f[addr + 4 * LIST_MAX + i] = t.steps() == null ? 0 : t.steps()[from + i];
        }
        f[start + count] = blocks;
        // one block at least, which finds no elements when every tensor is empty: it still counts their steps and,
        // when it is the last launch's, finishes the norm
        f[f.length - 1] = Math.max(blocks, 1);
        return f;
    }

    /**
     * SGD on every tensor (see the class comment); state1 holds the velocities, needed when momentum is not 0; lr
     * is the device's learning rate, ticket the context's last-block ticket (kernels/common.cuh).
     */
    public void sgdStep(DType dtype, Tensors t, CUdeviceptr lr, CUdeviceptr ticket, double momentum, double dampening,
                        double weightDecay, boolean nesterov, CUstream stream) {
        if (momentum != 0 && (t.state1() == null || java.util.Arrays.stream(t.state1()).anyMatch(a -> a == 0))) {
            throw new IllegalArgumentException("sgd_step: momentum " + momentum + " needs a velocity buffer per parameter");
        }
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            launch(pick(sgdStep, dtype, "sgd_step"), list, stream, new KernelArgs().struct(structOf(list)).ptr(lr)
                    .ptr(ticket).f64(momentum).f64(dampening).f64(weightDecay).i32(nesterov ? 1 : 0));
        }
    }

    /** Adam, or AdamW when decoupled, on every tensor with moments m in state1 and v in state2. */
    public void adamStep(DType dtype, Tensors t, CUdeviceptr lr, CUdeviceptr ticket, double beta1, double beta2,
                         double eps, double weightDecay, boolean decoupled, CUstream stream) {
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            launch(pick(adamStep, dtype, "adam_step"), list, stream, new KernelArgs().struct(structOf(list)).ptr(lr)
                    .ptr(ticket).f64(beta1).f64(beta2).f64(eps).f64(weightDecay).i32(decoupled ? 1 : 0));
        }
    }

    /** The blocks the launches of {@link #clipGradNorm} take over all of t's gradients: its partial sums. */
    static long partials(Tensors t) {
        long blocks = 0;
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            blocks += list[list.length - 1];
        }
        return blocks;
    }

    /**
     * norm[0] = the global norm of t's gradients (grads), using {@code partial} ({@link #partials} doubles), then the
     * gradients scaled where max / (norm + 1e-6) is below 1 (skipped when maxNorm is infinite).
     */
    public void clipGradNorm(DType dtype, Tensors t, double maxNorm, CUdeviceptr norm, CUdeviceptr partial,
                             CUdeviceptr ticket, CUstream stream) {
        long before = 0;
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            int to = Math.min(t.count(), from + LIST_MAX);
            long[] list = tensorList(t, from, to);
            launch(pick(gradNorm, dtype, "grad_norm"), list, stream, new KernelArgs().struct(structOf(list))
                    .ptr(partial).i64(before).i32(to == t.count() ? 1 : 0).ptr(norm).ptr(ticket));
            before += list[list.length - 1];
        }
        if (Double.isInfinite(maxNorm)) {
            return;
        }
        for (int from = 0; from < t.count(); from += LIST_MAX) {
            long[] list = tensorList(t, from, Math.min(t.count(), from + LIST_MAX));
            launch(pick(gradClip, dtype, "grad_clip"), list, stream, new KernelArgs().struct(structOf(list)).ptr(norm)
                    .f64(maxNorm));
        }
    }

    /** The struct's fields without the trailing grid. */
    private static long[] structOf(long[] list) {
        return java.util.Arrays.copyOf(list, list.length - 1);
    }

    private static void launch(KernelModule.Kernel k, long[] list, CUstream stream, KernelArgs args) {
        long blocks = list[list.length - 1];
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
