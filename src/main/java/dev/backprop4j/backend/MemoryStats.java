package dev.backprop4j.backend;

import java.util.Locale;

/**
 * A device's allocator counters (a caching allocator's: CUDA's). Bytes are block sizes (size classes), so in-use
 * bytes include rounding.
 *
 * @param bytesInUse         bytes of blocks held by live buffers
 * @param bytesCached        bytes of blocks in the free lists, held from the driver for reuse
 * @param peakBytesInUse     the most bytes in use at once (since creation or the allocator's last peak reset)
 * @param deviceAllocations  allocations made from the driver ({@code cuMemAlloc} calls)
 * @param deviceFrees        blocks given back to the driver (when the cache is emptied, and on out-of-memory retries)
 * @param requests           buffers asked for
 * @param cacheHits          requests served from a free list
 * @param reclaimedByCleaner blocks returned by the Cleaner from buffers that were never released
 * @param gcNudges           garbage collections requested because device memory went out and none came back
 */
public record MemoryStats(long bytesInUse, long bytesCached, long peakBytesInUse, long deviceAllocations,
                          long deviceFrees, long requests, long cacheHits, long reclaimedByCleaner, long gcNudges) {

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "in use %s (peak %s), cached %s, %d requests, %d cache hits, "
                        + "%d device allocations, %d device frees, %d reclaimed by the cleaner, %d GC nudges",
                bytes(bytesInUse), bytes(peakBytesInUse), bytes(bytesCached), requests, cacheHits, deviceAllocations,
                deviceFrees, reclaimedByCleaner, gcNudges);
    }

    /** "512 B", "1.50 KiB", "2.00 GiB". */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
