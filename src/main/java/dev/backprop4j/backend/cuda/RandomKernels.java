package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Distribution;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launcher of kernels/random.cu: out[i] drawn from a {@link Distribution} with parameters a, b as a pure function
 * of (seed, offset + i), SplitMix64 exactly as CpuMath: u = (splitMix64(seed, c) &gt;&gt;&gt; 11) 2^-53;
 * UNIFORM a + (b - a) u; NORMAL a + b z with Box-Muller on the counter pair (2k, 2k+1) (cos for the even, sin for
 * the odd counter); BERNOULLI u &lt; a ? 1 : 0. Values are computed in double and then stored as the buffer's
 * dtype (FLOAT32, FLOAT64 or INT32), so the CPU and CUDA backends draw the same numbers (bit for bit for uniform
 * and Bernoulli; to the last bits of log, sqrt, sin and cos for normal).
 */
final class RandomKernels implements AutoCloseable {

    static final String MODULE = "random";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.ALL_TYPES, "random", "random_at");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] random;
    private final KernelModule.Kernel[] randomAt;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    RandomKernels(KernelModule module) {
        this.module = module;
        this.random = module.family("random");
        this.randomAt = module.family("random_at");
    }

    /** Loads the module into the current CUDA context. */
    public static RandomKernels load() {
        return new RandomKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** Fills the n elements of out; element i uses counter offset + i. */
    public void random(DType dtype, CUdeviceptr out, long n, Distribution dist, double a, double b, long seed,
                       long offset, CUstream stream) {
        KernelModule.requireNonNegative("random", n);
        if (n == 0) {
            return;
        }
        long work = dist == Distribution.NORMAL ? (n + 2) / 2 : n; // normal: one thread per counter pair
        launch1d(pick(random, dtype, "random"), blocks(work, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).i64(n).i32(dist.ordinal()).f64(a).f64(b).i64(seed).i64(offset));
    }

    /**
     * Fills the n elements of out from the offset in counter[0] (a double on the device), which the launch then
     * advances by n; ticket is the context's last-block ticket (kernels/common.cuh).
     */
    public void randomAt(DType dtype, CUdeviceptr out, long n, Distribution dist, double a, double b, long seed,
                         CUdeviceptr counter, CUdeviceptr ticket, CUstream stream) {
        KernelModule.requireNonNegative("random_at", n);
        if (n == 0) {
            return;
        }
        long work = dist == Distribution.NORMAL ? (n + 2) / 2 : n;
        launch1d(pick(randomAt, dtype, "random_at"), blocks(work, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).i64(n).i32(dist.ordinal()).f64(a).f64(b).i64(seed).ptr(counter).ptr(ticket));
    }

    @Override
    public void close() {
        module.close();
    }
}
