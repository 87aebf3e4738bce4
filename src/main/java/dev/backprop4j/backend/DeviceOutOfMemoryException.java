package dev.backprop4j.backend;

/**
 * A device could not provide a block even after its allocator's cache was emptied and unreachable tensors were
 * collected; the message names the bytes asked for, free and held.
 */
public final class DeviceOutOfMemoryException extends IllegalStateException {
    private static final long serialVersionUID = 1L;
    private final long requestedBytes;
    private final long freeBytes;

    /**
     * @param device    the device, as "cuda:0"
     * @param requested the bytes asked for, in a block of {@code block} bytes
     * @param free      the bytes the device has free, of {@code total}
     * @param inUse     the bytes live buffers hold
     */
    public DeviceOutOfMemoryException(String device, long requested, long block, long free, long total, long inUse) {
        super("CUDA out of memory on " + device + ": tried to allocate " + MemoryStats.bytes(requested) + " ("
                + requested + " bytes, block " + block + "); the device has " + MemoryStats.bytes(free) + " (" + free
                + " bytes) free of " + MemoryStats.bytes(total) + ", backprop4j holds " + MemoryStats.bytes(inUse)
                + " in live buffers; the cache was emptied, unreachable tensors were collected and the allocation "
                + "retried (close tensors, or use a Scope per step, to hold less)");
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
