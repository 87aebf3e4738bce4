package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import jcuda.driver.CUdeviceptr;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;

/**
 * A buffer in CUDA device memory: {@link #length()} elements of its dtype at a device address, inside a block of
 * {@link #blockBytes()} bytes owned by the device's allocator ({@link Blocks}).
 *
 * <p>The last {@link #release()} returns the block to the allocator's cache at once. A buffer that becomes
 * unreachable without being released is caught by a {@link Cleaner}: its action (which holds the allocator and the
 * address, never the buffer) runs on the Cleaner's thread, where CUDA must not be called, so it only queues the
 * block; the allocator takes it back on its next call. {@code Cleanable.clean()} runs an action at most once, and
 * the explicit free goes through it, so a block can never be returned twice.
 */
final class CudaBuffer extends Buffer {

    /** Where a buffer's block goes back to: the device's caching allocator. */
    interface Blocks {
        /** Takes the block back at once (on a thread that may call CUDA). */
        void release(long address, long bytes);

        /** Queues the block, from the Cleaner's thread, for the allocator's next call to take back. */
        void reclaimLater(long address, long bytes);
    }

    private static final Cleaner CLEANER = Cleaner.create();

    private final int deviceIndex;
    private final long address;
    private final long blockBytes;
    private final Reclaim reclaim;
    private final Cleaner.Cleanable cleanable;
    private final CUdeviceptr pointer;

    CudaBuffer(Blocks allocator, int deviceIndex, DType dtype, long length, long address, long blockBytes) {
        super(dtype, length);
        this.deviceIndex = deviceIndex;
        this.address = address;
        this.blockBytes = blockBytes;
        this.pointer = pointerAt(address);
        this.reclaim = new Reclaim(allocator, address, blockBytes);
        this.cleanable = CLEANER.register(this, reclaim);
    }

    /** A CUdeviceptr for a raw device address (JCuda passes native pointer + byte offset to CUDA). */
    static CUdeviceptr pointerAt(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    @Override
    public Device device() {
        return Device.cuda(deviceIndex);
    }

    /** The device pointer to element 0, for kernel arguments, copies and cuBLAS. */
    public CUdeviceptr pointer() {
        checkLive();
        return pointer;
    }

    /** The device pointer to element {@code elementOffset}. */
    public CUdeviceptr pointer(long elementOffset) {
        checkLive();
        return pointerAt(address + elementOffset * dtype().bytes());
    }

    /** The device address of element 0. */
    public long address() {
        return address;
    }

    /** Bytes of the elements: length times the dtype's size. */
    public long byteSize() {
        return length() * dtype().bytes();
    }

    /** Bytes of the allocator block holding the elements (its size class, at least {@link #byteSize()}). */
    public long blockBytes() {
        return blockBytes;
    }

    @Override
    protected void free() {
        reclaim.explicit = true;
        cleanable.clean();
        Reference.reachabilityFence(this);
    }

    private void checkLive() {
        if (isFreed()) {
            throw new IllegalStateException("buffer of " + length() + " " + dtype() + " on " + device()
                    + " is already freed");
        }
    }

    @Override
    public String toString() {
        return "CudaBuffer[" + length() + " " + dtype() + " on " + device() + " at 0x" + Long.toHexString(address) + "]";
    }

    /** The Cleaner's state: everything needed to give the block back, and no reference to the buffer. */
    private static final class Reclaim implements Runnable {
        private final Blocks allocator;
        private final long address;
        private final long bytes;
        /** Set by {@link CudaBuffer#free()} before {@code clean()}, on the same thread that then runs {@link #run}. */
        boolean explicit;

        Reclaim(Blocks allocator, long address, long bytes) {
            this.allocator = allocator;
            this.address = address;
            this.bytes = bytes;
        }

        @Override
        public void run() {
            if (explicit) {
                allocator.release(address, bytes);
            } else {
                allocator.reclaimLater(address, bytes);
            }
        }
    }
}
