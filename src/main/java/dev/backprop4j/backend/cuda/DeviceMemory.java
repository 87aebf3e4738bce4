package dev.backprop4j.backend.cuda;

/**
 * Raw device memory under the {@link CudaAllocator}: the driver in production ({@code cuMemAlloc}/{@code cuMemFree},
 * see {@link CudaContext#allocator()}), a fake in tests, so the caching logic is testable without a GPU.
 * Addresses are plain longs; 0 is never a valid allocation.
 */
interface DeviceMemory {

    /** A new block of {@code bytes} bytes; 0 when the device is out of memory (any other failure throws). */
    long allocate(long bytes);

    /** Gives a block from {@link #allocate} back to the device. */
    void free(long address);

    /** Bytes the device has free now. */
    long freeBytes();

    /** Bytes of memory on the device. */
    long totalBytes();

    /** Waits until all queued device work is done (before blocks that work may still use are freed). */
    void synchronize();
}
