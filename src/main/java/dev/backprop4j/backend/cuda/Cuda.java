package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.Device;

import java.util.Locale;

/**
 * The CUDA backend's one entry point (everything else in this package is package-private): detects once whether
 * CUDA is usable (the JCuda driver natives load, {@code libcuda.so.1} is present, a device of compute capability
 * 8.0 or newer exists, the driver can run our PTX, cuBLAS loads) and hands out one backend per device; memory
 * statistics, the cache and the TF32 switch. Detection never throws; every failure becomes a reason.
 */
public final class Cuda {
    private static volatile Probe probe;
    private static volatile boolean autoLogged;

    private Cuda() {
    }

    /** Why CUDA cannot be used, or null when it can. */
    public static String unavailableReason() {
        return probe().reason;
    }

    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() {
        return probe().devices;
    }

    /**
     * The backend of CUDA device {@code index}.
     *
     * @throws IllegalStateException "CUDA unavailable: reason", or naming the device index when out of range
     */
    public static Backend backend(int index) {
        Probe p = probe();
        if (p.reason != null) {
            throw new IllegalStateException("CUDA unavailable: " + p.reason);
        }
        if (index >= p.devices) {
            throw new IllegalStateException("CUDA unavailable: device cuda:" + index + " does not exist ("
                    + p.devices + " device(s) found)");
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
        Probe p = probe();
        String why = p.reason != null ? "CUDA unavailable: " + p.reason
                : p.emulated ? "only the CUDA emulator, a test fixture, is present: " + p.description : null;
        Device d = why == null ? Device.cuda(0) : Device.CPU;
        if (!autoLogged) {
            autoLogged = true;
            System.err.println(why == null
                    ? "backprop4j: device auto -> cuda:0 (" + p.description + ")"
                    : "backprop4j: device auto -> cpu (" + why + ")");
        }
        return d;
    }

    /** Whether the usable CUDA devices are the CUDA emulator (the test fixture), not GPUs. */
    public static boolean isEmulated() {
        return probe().emulated;
    }

    /** One line on the CUDA device found ("NVIDIA H100 ... (compute 9.0, ...), driver ..., cuBLAS ..."), or null. */
    public static String description() {
        return probe().description;
    }

    private static Probe probe() {
        Probe p = probe;
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

    /**
     * Allocator counters. Bytes are block sizes (size classes), so in-use bytes include rounding.
     *
     * @param bytesInUse         bytes of blocks held by live buffers
     * @param bytesCached        bytes of blocks in the free lists, held from the driver for reuse
     * @param peakBytesInUse     the most bytes in use at once (since creation or the allocator's last resetPeak)
     * @param deviceAllocations  {@code cuMemAlloc} calls made
     * @param deviceFrees        {@code cuMemFree} calls made (by {@link #emptyCache(int)} and out-of-memory retries)
     * @param requests           buffers asked for
     * @param cacheHits          requests served from a free list
     * @param reclaimedByCleaner blocks returned by the Cleaner from buffers that were never released
     * @param gcNudges           garbage collections requested because device memory went out and none came back
     */
    public record MemoryStats(long bytesInUse, long bytesCached, long peakBytesInUse, long deviceAllocations,
                              long deviceFrees, long requests, long cacheHits, long reclaimedByCleaner,
                              long gcNudges) {

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "in use %s (peak %s), cached %s, %d requests, %d cache hits, "
                            + "%d device allocations, %d device frees, %d reclaimed by the cleaner, %d GC nudges",
                    CudaAllocator.bytes(bytesInUse), CudaAllocator.bytes(peakBytesInUse),
                    CudaAllocator.bytes(bytesCached), requests, cacheHits,
                    deviceAllocations, deviceFrees, reclaimedByCleaner, gcNudges);
        }
    }

    /** The device could not provide a block even after the cache was emptied and unreachable tensors collected. */
    public static final class OutOfMemoryException extends IllegalStateException {
        private static final long serialVersionUID = 1L;
        private final long requestedBytes;
        private final long freeBytes;

        OutOfMemoryException(int device, long requested, long block, long free, long total, long inUse) {
            super("CUDA out of memory on cuda:" + device + ": tried to allocate " + CudaAllocator.bytes(requested) + " (" + requested
                    + " bytes, block " + block + "); the device has " + CudaAllocator.bytes(free) + " (" + free + " bytes) free of "
                    + CudaAllocator.bytes(total) + ", backprop4j holds " + CudaAllocator.bytes(inUse) + " in live buffers; the cache was emptied, "
                    + "unreachable tensors were collected and the allocation retried (close tensors, or use a Scope "
                    + "per step, to hold less)");
            this.requestedBytes = requested;
            this.freeBytes = free;
        }

        public long requestedBytes() {
            return requestedBytes;
        }

        public long freeBytes() {
            return freeBytes;
        }
    }
    /** Result of detection: reason null when usable; emulated when the devices are the CUDA emulator. */
    record Probe(String reason, int devices, String description, boolean emulated) {
    }
}
