package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.DeviceOutOfMemoryException;
import dev.backprop4j.backend.MemoryStats;
import dev.backprop4j.core.DType;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A caching allocator of device memory for one CUDA device: freed blocks go to a free list of their size class
 * and are handed out again without touching the driver, because {@code cuMemAlloc}/{@code cuMemFree} are slow (and
 * {@code cuMemFree} may synchronise the device).
 *
 * <p><b>Size classes.</b> Requests round up to a multiple of 512 B below 1 MiB (at most 511 B lost per buffer; 512 B
 * also keeps every block aligned for any vector load), and to a multiple of 2 MiB from 1 MiB on (2 MiB is the
 * driver's page size for large allocations, so the driver rounds such a block up to about that anyway). A block is
 * reused only for a request of exactly its class: training loops ask for the same shapes every step, so after the
 * first step every request is a cache hit, and no block is ever split or merged.
 *
 * <p><b>Reuse without synchronisation.</b> All device work is queued on the device's single stream (see
 * {@link CudaContext}). A block freed while kernels that read or write it are still queued can be handed to a new
 * buffer at once: whatever the new owner queues comes after those kernels on the same stream, so it cannot touch
 * the block before they are done. Only giving memory back to the driver ({@link #emptyCache()}) first waits for the
 * stream.
 *
 * <p><b>Unclosed buffers.</b> A {@link CudaBuffer} dropped without release is returned by its Cleaner, which runs on
 * another thread and only queues the block ({@link #reclaimLater}); the queue is drained, under this allocator's
 * lock, at the start of the next {@link #allocate}, {@link #stats()} or {@link #emptyCache()}. The Cleaner only
 * runs after a garbage collection, and the Java heap knows nothing of device memory, so a loop that never closes
 * its tensors could fill the device while the heap stays calm. Two things keep such code running, as it does on
 * the CPU backend and in PyTorch: when {@link #gcNudgeBytes} bytes have been handed out with no block coming back
 * since, a collection is requested ({@code System.gc()}, at most once per that many bytes); and out of memory
 * starts one (below).
 *
 * <p><b>Out of memory.</b> When the driver has no room, the cache is emptied and the allocation retried; then a
 * garbage collection is run, the Cleaner's queue waited for with a bounded backoff (at most about a second in all),
 * drained, the cache emptied and the allocation retried once more. If that fails too,
 * {@link DeviceOutOfMemoryException} names the bytes requested and the bytes the device has free.
 *
 * <p><b>Private pools.</b> While a CUDA graph is captured ({@link #beginCapture}), every allocation comes from that
 * graph's own {@link Pool} and every block freed that the pool handed out goes back to it, never to the shared free
 * lists: the graph's replays write the same addresses again, so no other buffer may ever be given one of them while
 * the graph lives. Closing the pool ({@link #closePool}) moves its free blocks to the shared lists; blocks still in
 * use follow when they are freed.
 *
 * <p>Thread-safe: the methods synchronise on the allocator; {@link #reclaimLater} is lock-free.
 */
final class CudaAllocator implements CudaBuffer.Blocks {

    static final long SMALL_ROUND = 512;
    static final long LARGE_THRESHOLD = 1L << 20;
    static final long LARGE_ROUND = 2L << 20;

    private final int deviceIndex;
    private final DeviceMemory memory;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    /** The private pool of each block a pool handed out, while that pool or the block lives. */
    private final Map<Long, Pool> poolOf = new HashMap<>();
    private Pool capturing;
    private final ConcurrentLinkedQueue<long[]> pending = new ConcurrentLinkedQueue<>();

    private long inUse;
    private long cached;
    private long peak;
    private long deviceAllocations;
    private long deviceFrees;
    private long requests;
    private long cacheHits;
    private long reclaimedByCleaner;
    private long bytesSinceReturn;
    private long gcNudges;
    private final long gcNudgeBytes;

    CudaAllocator(int deviceIndex, DeviceMemory memory) {
        this.deviceIndex = deviceIndex;
        this.memory = memory;
        this.gcNudgeBytes = gcNudgeBytes(memory.totalBytes());
    }

    /** Bytes handed out with none coming back after which a GC is requested: 1/16 of the device, 64 MiB to 1 GiB. */
    static long gcNudgeBytes(long deviceBytes) {
        return Math.max(64L << 20, Math.min(1L << 30, deviceBytes / 16));
    }

    /** The block size that serves a request of {@code bytes} bytes (see the class comment). */
    static long sizeClass(long bytes) {
        if (bytes <= 0) {
            return SMALL_ROUND;
        }
        long round = bytes < LARGE_THRESHOLD ? SMALL_ROUND : LARGE_ROUND;
        return Math.addExact(bytes, round - 1) / round * round;
    }

    /**
     * A new buffer of {@code length} elements, its contents undefined.
     *
     * @throws DeviceOutOfMemoryException when the device has no room even after the cache is emptied
     */
    public synchronized CudaBuffer allocate(DType dtype, long length) {
        if (length < 0) {
            throw new IllegalArgumentException("buffer length must be >= 0, got " + length);
        }
        long bytes = Math.multiplyExact(length, (long) dtype.bytes());
        long size = sizeClass(bytes);
        drainPending();
        requests++;
        long address;
        ArrayDeque<Long> list = (capturing != null ? capturing.free : free).get(size);
        if (list != null && !list.isEmpty()) {
            address = list.pop();
            cached -= size;
            cacheHits++;
        } else {
            address = memory.allocate(size);
            if (address == 0 && capturing != null) {
                // emptying the cache would wait for the device, which a capture cannot
                throw new DeviceOutOfMemoryException("cuda:" + deviceIndex, bytes, size, memory.freeBytes(), memory.totalBytes(),
                        inUse);
            }
            if (address == 0) {
                emptyCacheLocked();
                address = memory.allocate(size);
            }
            if (address == 0) {
                reclaimUnreachable(1000);
                emptyCacheLocked();
                address = memory.allocate(size);
            }
            if (address == 0) {
                throw new DeviceOutOfMemoryException("cuda:" + deviceIndex, bytes, size, memory.freeBytes(), memory.totalBytes(),
                        inUse);
            }
            deviceAllocations++;
            if (capturing != null) {
                poolOf.put(address, capturing);
            }
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        bytesSinceReturn += size;
        if (bytesSinceReturn >= gcNudgeBytes) {
            bytesSinceReturn = 0;
            gcNudges++;
            System.gc(); // unreachable buffers come back through the Cleaner, before the device fills up
        }
        return new CudaBuffer(this, deviceIndex, dtype, length, address, size);
    }

    /**
     * Runs a garbage collection and takes back what the Cleaner returns: waits with a doubling backoff (1 ms, 2 ms,
     * ...) until blocks have come and the queue has then stayed empty for one step, or nothing has come in 100 ms,
     * or {@code maxWaitMillis} pass.
     *
     * @return the number of blocks taken back
     */
    synchronized long reclaimUnreachable(long maxWaitMillis) {
        long before = reclaimedByCleaner;
        drainPending();
        System.gc();
        long start = System.nanoTime();
        long deadline = start + maxWaitMillis * 1_000_000L;
        boolean got = false;
        for (long wait = 1; System.nanoTime() < deadline; wait = Math.min(wait * 2, 64)) {
            if (!got && System.nanoTime() - start > 100_000_000L) {
                break;
            }
            try {
                wait(wait); // releases this allocator's lock while the Cleaner works
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            boolean more = !pending.isEmpty();
            drainPending();
            if (got && !more) {
                break;
            }
            got |= more;
        }
        return reclaimedByCleaner - before;
    }

    /** Bytes the device itself has free (not counting this allocator's cache). */
    long deviceFreeBytes() {
        return memory.freeBytes();
    }

    /** Gives every cached block back to the driver, after waiting for queued work that may still use them. */
    public synchronized void emptyCache() {
        drainPending();
        emptyCacheLocked();
    }

    /** A snapshot of the counters. */
    public synchronized MemoryStats stats() {
        drainPending();
        return new MemoryStats(inUse, cached, peak, deviceAllocations, deviceFrees, requests, cacheHits, reclaimedByCleaner,
                gcNudges);
    }

    /** Sets the peak back to the bytes in use now (for measuring one phase). */
    public synchronized void resetPeak() {
        drainPending();
        peak = inUse;
    }

    /** Returns a block to its free list, its pool's while that is open (explicit release, on the releasing thread). */
    @Override
    public synchronized void release(long address, long size) {
        bytesSinceReturn = 0;
        inUse -= size;
        cached += size;
        Pool pool = poolOf.get(address);
        if (pool != null && pool.closed) {
            poolOf.remove(address);
            pool = null;
        }
        (pool != null ? pool.free : free).computeIfAbsent(size, s -> new ArrayDeque<>()).push(address);
    }

    /** A CUDA graph's private blocks (see the class comment). */
    static final class Pool {
        private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
        private boolean closed;
    }

    /** Makes {@code pool} the source and sink of every allocation until {@link #endCapture}. */
    synchronized void beginCapture(Pool pool) {
        if (capturing != null) {
            throw new IllegalStateException("cuda:" + deviceIndex + ": a CUDA graph is already being captured");
        }
        drainPending();
        capturing = pool;
    }

    /** Whether a CUDA graph is being captured (allocations come from its pool). */
    synchronized boolean isCapturing() {
        return capturing != null;
    }

    /** Ends {@link #beginCapture}: allocations come from the shared free lists again. */
    synchronized void endCapture() {
        capturing = null;
    }

    /** Gives the pool's free blocks to the shared lists; its blocks still in use follow when freed. */
    synchronized void closePool(Pool pool) {
        drainPending();
        pool.closed = true;
        for (Map.Entry<Long, ArrayDeque<Long>> e : pool.free.entrySet()) {
            for (Long address : e.getValue()) {
                poolOf.remove(address);
                free.computeIfAbsent(e.getKey(), s -> new ArrayDeque<>()).push(address);
            }
        }
        pool.free.clear();
    }

    /** Queues a block from the Cleaner's thread; taken back by the next call on this allocator. */
    @Override
    public void reclaimLater(long address, long size) {
        pending.add(new long[] {address, size});
    }

    private void drainPending() {
        for (long[] block = pending.poll(); block != null; block = pending.poll()) {
            reclaimedByCleaner++;
            release(block[0], block[1]);
        }
    }

    private void emptyCacheLocked() {
        if (cached == 0) {
            return;
        }
        memory.synchronize();
        for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
            for (Long address : e.getValue()) {
                memory.free(address);
                deviceFrees++;
                cached -= e.getKey();
            }
        }
        free.clear();
    }

    @Override
    public String toString() {
        return "CudaAllocator[cuda:" + deviceIndex + ", " + stats() + "]";
    }
}
