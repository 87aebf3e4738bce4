package dev.backprop4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The error flag through which kernels report an out-of-range label or index, since a kernel cannot throw:
 * an 8-byte device word holding {@code (row << 32) | (value & 0xffffffff)} of the smallest offending row seen
 * (an {@code atomicMin}), or all ones ({@link #NO_ERROR}) when every row was in range.
 *
 * <p>Protocol: allocate {@link #BYTES} bytes once; {@link #reset} on the stream before the launches to be
 * checked (the launchers never reset it, so several launches can share one check); pass the pointer to
 * {@link SoftmaxKernels#crossEntropyForward} or {@link LayoutKernels#gatherRows} / {@link LayoutKernels#scatterRows};
 * then {@link #readAll} (which waits for the stream) and {@link #throwIfBad}, or check later, when the host syncs
 * anyway. Rows that fail are not read out of bounds: cross-entropy writes loss NaN for them (probabilities
 * are still written), gather writes 0, scatter skips them.
 */
final class IndexCheck {

    /** Size of the flag in bytes. */
    public static final long BYTES = 8;

    /** The flag's value when no row was out of range. */
    public static final long NO_ERROR = -1L;

    private IndexCheck() {
    }

    /** Sets the flag to {@link #NO_ERROR}, asynchronously on {@code stream}. */
    public static void reset(CUdeviceptr flag, CUstream stream) {
        KernelModule.check(() -> JCudaDriver.cuMemsetD32Async(flag, 0xFFFFFFFF, 2, stream),
                () -> "resetting the index error flag");
    }

    /**
     * The values of {@code count} consecutive flags starting at {@code first}, in one synchronous copy (which the
     * blocking stream orders after every launch queued before it: one host wait however many flags are armed).
     */
    public static long[] readAll(CUdeviceptr first, int count) {
        long[] host = new long[count];
        if (count > 0) {
            KernelModule.check(() -> JCudaDriver.cuMemcpyDtoH(Pointer.to(host), first, BYTES * count),
                    () -> "reading " + count + " index error flag(s)");
        }
        return host;
    }

    /** The first offending row of a flag value other than {@link #NO_ERROR}. */
    public static int row(long flag) {
        return (int) (flag >>> 32);
    }

    /** The offending label or index of a flag value other than {@link #NO_ERROR}. */
    public static int value(long flag) {
        return (int) flag;
    }

    /**
     * Throws what the CPU backend throws for the same input, e.g.
     * {@code "cross_entropy: label 12 in row 3 is outside [0, 10)"} for op "cross_entropy", what "label".
     */
    public static void throwIfBad(long flag, String op, String what, long limit) {
        if (flag != NO_ERROR) {
            throw new IllegalArgumentException(op + ": " + what + " " + value(flag) + " in row " + row(flag)
                    + " is outside [0, " + limit + ")");
        }
    }
}
