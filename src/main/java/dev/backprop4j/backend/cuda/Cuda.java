package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.MemoryStats;
import dev.backprop4j.core.Device;


/**
 * The CUDA backend's one entry point (everything else in this package is package-private): detects once whether
 * CUDA is usable (the JCuda driver natives load, {@code libcuda.so.1} is present, a device of compute capability
 * 8.0 or newer exists, the driver can run our PTX, cuBLAS loads) and hands out one backend per device; memory
 * statistics, the cache and the TF32 switch. Detection never throws; every failure becomes a reason.
 */
public final class Cuda {
    private static volatile CudaProbe.Result probe;
    private static volatile boolean autoLogged;

    private Cuda() {
    }

    /** Why CUDA cannot be used, or null when it can. */
    public static String unavailableReason() {
        return probe().reason();
    }

    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() {
        return probe().devices();
    }

    /**
     * The backend of CUDA device {@code index}.
     *
     * @throws IllegalStateException "CUDA unavailable: reason", or naming the device index when out of range
     */
    public static Backend backend(int index) {
        CudaProbe.Result p = probe();
        if (p.reason() != null) {
            throw new IllegalStateException("CUDA unavailable: " + p.reason());
        }
        if (index >= p.devices()) {
            throw new IllegalStateException("CUDA unavailable: device cuda:" + index + " does not exist ("
                    + p.devices() + " device(s) found)");
        }
        if (index > 0) { // the probe checked cuda:0
            String tooOld = CudaProbe.tooOldReason(index);
            if (tooOld != null) {
                throw new IllegalStateException("CUDA unavailable: " + tooOld);
            }
        }
        return CudaBackend.get(index);
    }

    /**
     * cuda:0 when usable, else the CPU; logs the choice and the reason once. Never the CUDA emulator (a test
     * fixture that runs the kernels on the CPU, far slower than the CPU backend): it must be asked for by name.
     */
    public static Device autoDevice() {
        CudaProbe.Result p = probe();
        String why = p.reason() != null ? "CUDA unavailable: " + p.reason()
                : p.emulated() ? "only the CUDA emulator, a test fixture, is present: " + p.description() : null;
        Device d = why == null ? Device.cuda(0) : Device.CPU;
        if (!autoLogged) {
            autoLogged = true;
            System.err.println(why == null
                    ? "backprop4j: device auto -> cuda:0 (" + p.description() + ")"
                    : "backprop4j: device auto -> cpu (" + why + ")");
        }
        return d;
    }

    /** Whether the usable CUDA devices are the CUDA emulator (the test fixture), not GPUs. */
    public static boolean isEmulated() {
        return probe().emulated();
    }

    /** One line on the CUDA device found ("NVIDIA H100 ... (compute 9.0, ...), driver ..., cuBLAS ..."), or null. */
    public static String description() {
        return probe().description();
    }

    private static CudaProbe.Result probe() {
        CudaProbe.Result p = probe;
        if (p == null) {
            synchronized (Cuda.class) {
                p = probe;
                if (p == null) {
                    p = CudaProbe.run();
                    probe = p;
                }
            }
        }
        return p;
    }

    /**
     * The caching allocator's counters of CUDA device {@code index} (bytes in use, cached, peak, allocations...).
     *
     * @throws IllegalStateException "CUDA unavailable: reason" when the device cannot be used
     */
    public static MemoryStats memoryStats(int index) {
        backend(index);
        return CudaContext.get(index).allocator().stats();
    }

    /**
     * Sets the peak of device {@code index} back to the bytes in use now, so that {@link MemoryStats#peakBytesInUse}
     * measures what comes next (as torch.cuda.reset_peak_memory_stats).
     */
    public static void resetPeakMemory(int index) {
        backend(index);
        CudaContext.get(index).allocator().resetPeak();
    }

    /**
     * Bytes of device {@code index} available for new tensors: what the driver has free plus what the caching
     * allocator holds for reuse.
     */
    public static long freeBytes(int index) {
        backend(index);
        CudaAllocator a = CudaContext.get(index).allocator();
        return a.deviceFreeBytes() + a.stats().bytesCached();
    }

    /** Gives the device memory cached by the allocator of device {@code index} back to the driver. */
    public static void emptyCache(int index) {
        backend(index);
        CudaContext.get(index).allocator().emptyCache();
    }

    /**
     * Opts FP32 matrix products into TF32 tensor-core math, for all devices from the next call (also
     * {@code -Dbackprop4j.cuda.tf32=true}): inputs rounded to a 10-bit mantissa, FP32 accumulation, relative errors
     * around 1e-3, several times faster on Ampere and newer. Off by default: FP32 products are exact FP32.
     */
    public static void setTf32(boolean enabled) {
        CudaBlas.setTf32(enabled);
    }

    /** Whether FP32 matrix products use TF32 tensor-core math ({@link #setTf32}). */
    public static boolean tf32() {
        return CudaBlas.tf32();
    }
}
