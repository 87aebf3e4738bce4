package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caching allocator on a fake device: no GPU needed. */
class CudaAllocatorTest {

    private static final long MIB = 1L << 20;

    /** Device memory of a fixed capacity that records every call and the thread that made it. */
    static final class FakeMemory implements DeviceMemory {
        final long capacity;
        final Map<Long, Long> live = new HashMap<>();
        final List<String> calls = new ArrayList<>();
        final List<Thread> threads = new ArrayList<>();
        long used;
        long next = 0x7f00_0000_0000L;

        FakeMemory(long capacity) {
            this.capacity = capacity;
        }

        private synchronized void record(String call) {
            calls.add(call);
            threads.add(Thread.currentThread());
        }

        @Override
        public synchronized long allocate(long bytes) {
            record("allocate " + bytes);
            if (used + bytes > capacity) {
                return 0;
            }
            long address = next;
            next += bytes + 4096;
            live.put(address, bytes);
            used += bytes;
            return address;
        }

        @Override
        public synchronized void free(long address) {
            record("free");
            Long bytes = live.remove(address);
            if (bytes == null) {
                throw new AssertionError("device free of an address not allocated (or freed twice): " + address);
            }
            used -= bytes;
        }

        @Override
        public synchronized long freeBytes() {
            return capacity - used;
        }

        @Override
        public long totalBytes() {
            return capacity;
        }

        @Override
        public void synchronize() {
            record("synchronize");
        }

        synchronized long count(String prefix) {
            return calls.stream().filter(c -> c.startsWith(prefix)).count();
        }
    }

    @Test
    void sizeClassesRoundTo512BytesBelowOneMibAndTo2MibAbove() {
        assertEquals(512, CudaAllocator.sizeClass(0));
        assertEquals(512, CudaAllocator.sizeClass(1));
        assertEquals(512, CudaAllocator.sizeClass(512));
        assertEquals(1024, CudaAllocator.sizeClass(513));
        assertEquals(MIB, CudaAllocator.sizeClass(MIB - 1));
        assertEquals(2 * MIB, CudaAllocator.sizeClass(MIB));
        assertEquals(2 * MIB, CudaAllocator.sizeClass(2 * MIB));
        assertEquals(4 * MIB, CudaAllocator.sizeClass(2 * MIB + 1));
    }

    @Test
    void aFreedBlockIsReusedForTheSameClassWithoutADeviceAllocation() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        CudaBuffer a = alloc.allocate(DType.FLOAT32, 100);        // 400 B -> 512 B block
        long address = a.address();
        assertEquals(Device.cuda(0), a.device());
        assertEquals(400, a.byteSize());
        assertEquals(512, a.blockBytes());
        a.release();
        CudaBuffer b = alloc.allocate(DType.INT32, 120);          // 480 B: same class
        assertEquals(address, b.address());
        assertEquals(1, mem.count("allocate"));
        CudaBuffer c = alloc.allocate(DType.FLOAT64, 100);        // 800 B -> 1024 B: a new block
        assertNotEquals(address, c.address());
        assertEquals(2, mem.count("allocate"));

        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertEquals(3, s.requests());
        assertEquals(1, s.cacheHits());
        assertEquals(2, s.deviceAllocations());
        assertEquals(512 + 1024, s.bytesInUse());
        assertEquals(0, s.bytesCached());
    }

    /**
     * {@code y = x.add(1)} in a loop, y never closed: the device's worth of memory goes out many times over. The
     * allocator asks for a GC when memory goes out and none comes back, and out of memory runs one and waits for
     * the Cleaner, so the loop runs on as it does on the CPU backend.
     */
    @Test
    void unclosedBuffersInALoopNeverRunTheDeviceOutOfMemory() {
        FakeMemory mem = new FakeMemory(256 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        for (int i = 0; i < 200; i++) {
            alloc.allocate(DType.FLOAT32, 16 * MIB / 4); // 16 MiB, dropped without release
        }
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertTrue(s.reclaimedByCleaner() > 0, s.toString());
        assertTrue(mem.used <= 256 * MIB, s.toString());
    }

    @Test
    void outOfMemoryWaitsForTheCleanerBeforeFailing() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        alloc.allocate(DType.FLOAT32, 48 * MIB / 4); // 48 MiB, unreachable from here on
        CudaBuffer b = alloc.allocate(DType.FLOAT32, 48 * MIB / 4);
        assertEquals(1, alloc.stats().reclaimedByCleaner(), "the unreachable block was taken back and reused");
        assertEquals(48 * MIB, alloc.stats().bytesInUse());
        dev.backprop4j.backend.DeviceOutOfMemoryException e = assertThrows(dev.backprop4j.backend.DeviceOutOfMemoryException.class,
                () -> alloc.allocate(DType.FLOAT32, 32 * MIB / 4));
        assertEquals(32 * MIB, e.requestedBytes());
        assertEquals(16 * MIB, e.freeBytes());
        b.release();
    }

    @Test
    void statsTrackInUseCachedAndPeak() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        CudaBuffer big = alloc.allocate(DType.FLOAT32, 3 * MIB / 4 + 1); // 3 MiB + 4 B -> 4 MiB
        CudaBuffer small = alloc.allocate(DType.FLOAT32, 1);            // 512 B
        assertEquals(4 * MIB + 512, alloc.stats().bytesInUse());
        big.release();
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertEquals(512, s.bytesInUse());
        assertEquals(4 * MIB, s.bytesCached());
        assertEquals(4 * MIB + 512, s.peakBytesInUse());
        alloc.resetPeak();
        assertEquals(512, alloc.stats().peakBytesInUse());
        small.release();
        assertEquals(0, alloc.stats().bytesInUse());
    }

    @Test
    void releaseTwiceReturnsTheBlockOnceAndUseAfterFreeFails() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        CudaBuffer a = alloc.allocate(DType.FLOAT32, 10);
        a.release();
        a.release();
        assertEquals(512, alloc.stats().bytesCached());
        assertEquals(0, alloc.stats().bytesInUse());
        assertThrows(IllegalStateException.class, a::pointer);
        assertThrows(IllegalStateException.class, a::retain);
        // two requests now must get two different blocks: the freed block is in the list once
        CudaBuffer b = alloc.allocate(DType.FLOAT32, 10);
        CudaBuffer c = alloc.allocate(DType.FLOAT32, 10);
        assertNotEquals(b.address(), c.address());
    }

    @Test
    void retainedBufferIsFreedByTheLastRelease() {
        CudaAllocator alloc = new CudaAllocator(0, new FakeMemory(64 * MIB));
        CudaBuffer a = alloc.allocate(DType.FLOAT32, 10);
        a.retain();
        a.release();
        assertEquals(512, alloc.stats().bytesInUse());
        a.release();
        assertEquals(0, alloc.stats().bytesInUse());
    }

    @Test
    void emptyCacheSynchronizesThenFreesOnlyCachedBlocks() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        CudaBuffer keep = alloc.allocate(DType.FLOAT32, 10);
        alloc.allocate(DType.FLOAT32, 10).release();
        alloc.allocate(DType.FLOAT32, MIB).release();
        alloc.emptyCache();
        assertEquals(List.of("allocate 512", "allocate 512", "allocate 4194304", "synchronize", "free", "free"),
                mem.calls.subList(0, 6).stream().map(c -> c.startsWith("free") ? "free" : c).toList());
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertEquals(0, s.bytesCached());
        assertEquals(512, s.bytesInUse());
        assertEquals(2, s.deviceFrees());
        assertEquals(1, mem.live.size());
        assertTrue(mem.live.containsKey(keep.address()));
        alloc.emptyCache(); // nothing cached: no synchronize, no free
        assertEquals(1, mem.count("synchronize"));
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetriesOnce() {
        FakeMemory mem = new FakeMemory(5 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        alloc.allocate(DType.FLOAT32, MIB / 4).release();                  // 1 MiB -> 2 MiB block, cached
        CudaBuffer big = alloc.allocate(DType.FLOAT32, 3 * MIB / 4 + 1);   // 4 MiB block: fits only after emptying
        assertEquals(4 * MIB, big.blockBytes());
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertEquals(1, s.deviceFrees());
        assertEquals(0, s.bytesCached());
        assertEquals(List.of("allocate 2097152", "allocate 4194304", "synchronize", "free", "allocate 4194304"),
                mem.calls);
    }

    @Test
    void outOfMemoryAfterTheRetryNamesRequestedAndFreeBytes() {
        FakeMemory mem = new FakeMemory(6 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        CudaBuffer held = alloc.allocate(DType.FLOAT32, MIB / 2);          // 2 MiB held
        long request = 5 * MIB;
        dev.backprop4j.backend.DeviceOutOfMemoryException e = assertThrows(dev.backprop4j.backend.DeviceOutOfMemoryException.class,
                () -> alloc.allocate(DType.FLOAT64, request / 8));
        assertTrue(e instanceof IllegalStateException);
        assertEquals(request, e.requestedBytes());
        assertEquals(4 * MIB, e.freeBytes());
        assertTrue(e.getMessage().startsWith("CUDA out of memory on cuda:0: tried to allocate 5.00 MiB (5242880 bytes"),
                e.getMessage());
        assertTrue(e.getMessage().contains("4.00 MiB (4194304 bytes) free"), e.getMessage());
        assertEquals(3, mem.count("allocate 6291456")); // tried; emptied (nothing), retried; GC run, retried
        assertEquals(2 * MIB, alloc.stats().bytesInUse());
        held.release();
    }

    @Test
    void aLeakedBufferComesBackThroughTheCleanerWithoutTouchingTheDeviceFromItsThread() throws InterruptedException {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator alloc = new CudaAllocator(0, mem);
        long address = leak(alloc);
        long deadline = System.nanoTime() + 10_000_000_000L;
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        while (s.reclaimedByCleaner() == 0 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
            s = alloc.stats();
        }
        assertEquals(1, s.reclaimedByCleaner(), "the Cleaner did not return the leaked block within 10 s");
        assertEquals(0, s.bytesInUse());
        assertEquals(512, s.bytesCached());
        assertEquals(address, alloc.allocate(DType.FLOAT32, 1).address());
        assertEquals(1, mem.count("allocate"));
        for (Thread t : mem.threads) {
            assertEquals(Thread.currentThread(), t, "device memory was called from " + t.getName());
        }
    }

    @Test
    void anExplicitlyReleasedBufferIsNotReturnedAgainByTheCleaner() throws InterruptedException {
        CudaAllocator alloc = new CudaAllocator(0, new FakeMemory(64 * MIB));
        releaseAndDrop(alloc);
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        dev.backprop4j.backend.MemoryStats s = alloc.stats();
        assertEquals(0, s.reclaimedByCleaner());
        assertEquals(512, s.bytesCached());
        assertEquals(0, s.bytesInUse());
    }

    private static long leak(CudaAllocator alloc) {
        return alloc.allocate(DType.FLOAT32, 10).address();
    }

    private static void releaseAndDrop(CudaAllocator alloc) {
        alloc.allocate(DType.FLOAT32, 10).release();
    }

    /**
     * A graph's private pool: what is allocated while capturing comes back to the pool, never to anyone else while
     * the pool is open, and goes to the shared lists when it closes (blocks still held follow when freed).
     */
    @Test
    void aCaptureKeepsItsBlocksToItselfUntilItsPoolCloses() {
        FakeMemory mem = new FakeMemory(64 * MIB);
        CudaAllocator a = new CudaAllocator(0, mem);
        CudaBuffer shared = a.allocate(DType.FLOAT32, 1000);
        long sharedAddress = shared.address();
        shared.release();
        CudaAllocator.Pool pool = new CudaAllocator.Pool();
        a.beginCapture(pool);
        CudaBuffer inGraph = a.allocate(DType.FLOAT32, 1000);
        assertNotEquals(sharedAddress, inGraph.address(), "a capture must not take a block others may reuse");
        long graphAddress = inGraph.address();
        CudaBuffer kept = a.allocate(DType.FLOAT32, 1000);
        inGraph.release();
        CudaBuffer again = a.allocate(DType.FLOAT32, 1000);
        assertEquals(graphAddress, again.address(), "inside the capture, the pool's own blocks are reused");
        again.release();
        a.endCapture();
        CudaBuffer outside = a.allocate(DType.FLOAT32, 1000);
        assertEquals(sharedAddress, outside.address(), "outside, the shared block");
        CudaBuffer outside2 = a.allocate(DType.FLOAT32, 1000);
        assertNotEquals(graphAddress, outside2.address(), "the graph's free block stays reserved while it lives");
        a.closePool(pool);
        CudaBuffer after = a.allocate(DType.FLOAT32, 1000);
        assertEquals(graphAddress, after.address(), "a closed pool's free blocks are shared");
        long keptAddress = kept.address();
        kept.release();
        CudaBuffer last = a.allocate(DType.FLOAT32, 1000);
        assertEquals(keptAddress, last.address(), "a block held past the pool's close comes back to the shared lists");
    }
}
