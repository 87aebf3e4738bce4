package dev.backprop4j.backend.cuda;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * Copies between Java arrays and device memory, and within the device, on the context's stream.
 * Uploads go through a small ring of pinned (page-locked) staging buffers and are asynchronous: before
 * refilling a slot the host waits, on that slot's event, only for the copy that last used it and only when that
 * copy has not finished yet, so uploading a batch's inputs and labels does not wait for the queued training work.
 * Downloads are synchronous copies, which the single blocking stream orders after all queued work, or, with
 * {@link #downloadLater}, asynchronous copies into pinned memory that the host picks up once their event is done.
 */
final class CudaMemcpy {
    private static final int SLOTS = 8;

    /** One pinned staging buffer and the event recorded after its last copy. */
    private static final class Slot {
        Pointer host;
        long bytes;
        final CUevent done = new CUevent();
        boolean inFlight;
    }

    private final CudaContext ctx;
    private final Slot[] slots = new Slot[SLOTS];
    private int next;

    CudaMemcpy(CudaContext ctx) {
        this.ctx = ctx;
        ctx.makeCurrent();
        for (int i = 0; i < SLOTS; i++) {
            Slot s = new Slot();
            KernelModule.check(() -> JCudaDriver.cuEventCreate(s.done, 0), () -> "creating an upload event");
            slots[i] = s;
        }
    }

    /** Uploads {@code bytes} bytes that {@code fill} writes into a staging buffer (native byte order). */
    synchronized void upload(CUdeviceptr dst, long bytes, Consumer<ByteBuffer> fill) {
        if (bytes == 0) {
            return;
        }
        ctx.makeCurrent();
        Slot s = slots[next];
        next = (next + 1) % SLOTS;
        if (s.inFlight) {
            if (!isDone(s.done)) {
                KernelModule.check(() -> JCudaDriver.cuEventSynchronize(s.done), () -> "waiting for an earlier upload");
            }
            s.inFlight = false;
        }
        if (s.bytes < bytes) {
            if (s.host != null) {
                KernelModule.check(() -> JCudaDriver.cuMemFreeHost(s.host), () -> "freeing pinned memory");
            }
            long size = Math.max(bytes, 256 << 10);
            Pointer p = new Pointer();
            KernelModule.check(() -> JCudaDriver.cuMemAllocHost(p, size), () -> "allocating " + size + " bytes of pinned memory");
            s.host = p;
            s.bytes = size;
        }
        fill.accept(s.host.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder()));
        CUstream stream = ctx.stream();
        KernelModule.check(() -> JCudaDriver.cuMemcpyHtoDAsync(dst, s.host, bytes, stream), () -> "uploading " + bytes + " bytes");
        KernelModule.check(() -> JCudaDriver.cuEventRecord(s.done, stream), () -> "recording an upload event");
        s.inFlight = true;
    }

    void download(CUdeviceptr src, Pointer dst, long bytes) {
        if (bytes == 0) {
            return;
        }
        ctx.makeCurrent();
        KernelModule.check(() -> JCudaDriver.cuMemcpyDtoH(dst, src, bytes), () -> "downloading " + bytes + " bytes");
    }

    void deviceToDevice(CUdeviceptr src, CUdeviceptr dst, long bytes) {
        if (bytes == 0) {
            return;
        }
        ctx.makeCurrent();
        CUstream stream = ctx.stream();
        KernelModule.check(() -> JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, stream), () -> "copying " + bytes + " bytes on the device");
    }

    /** Whether the work before {@code event} has finished, without waiting ({@code cuEventQuery}). */
    static boolean isDone(CUevent event) {
        int r;
        try {
            r = JCudaDriver.cuEventQuery(event);
        } catch (CudaException e) {
            if (CUresult.stringFor(CUresult.CUDA_ERROR_NOT_READY).equals(e.getMessage())) {
                return false;
            }
            throw new IllegalStateException("CUDA error querying an event: " + e.getMessage(), e);
        }
        if (r == CUresult.CUDA_ERROR_NOT_READY) {
            return false;
        }
        if (r != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("CUDA error querying an event: " + CUresult.stringFor(r));
        }
        return true;
    }

    /** A pinned host block and the event recorded after the copies into it; reused once its copy was taken. */
    final class PendingCopy {
        private final Pointer host;
        private final long capacity;
        private final CUevent done = new CUevent();
        private long bytes;
        private boolean taken = true;

        private PendingCopy(long capacity) {
            this.capacity = capacity;
            this.host = new Pointer();
            KernelModule.check(() -> JCudaDriver.cuMemAllocHost(host, capacity),
                    () -> "allocating " + capacity + " bytes of pinned memory");
            KernelModule.check(() -> JCudaDriver.cuEventCreate(done, 0), () -> "creating a download event");
        }

        /** Whether the copies have finished (never waits). */
        boolean isDone() {
            ctx.makeCurrent();
            return CudaMemcpy.isDone(done);
        }

        /**
         * The copied bytes, waiting only if the copies have not finished; the block goes back to the pool, so
         * this may be called once.
         */
        ByteBuffer take() {
            if (taken) {
                throw new IllegalStateException("this copy was already taken");
            }
            ctx.makeCurrent();
            if (!CudaMemcpy.isDone(done)) {
                KernelModule.check(() -> JCudaDriver.cuEventSynchronize(done), () -> "waiting for a download");
            }
            ByteBuffer out = ByteBuffer.allocate((int) bytes).order(ByteOrder.nativeOrder());
            out.put(host.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder()));
            out.flip();
            taken = true;
            synchronized (CudaMemcpy.this) {
                idle.push(this);
            }
            return out;
        }
    }

    private final ArrayDeque<PendingCopy> idle = new ArrayDeque<>();

    /**
     * Starts copying the given device ranges, one after the other, into one pinned block without waiting (the
     * copies queue behind all work on the stream); {@link PendingCopy#take} returns them concatenated, each range
     * starting at a multiple of 8 bytes. Ranges are (pointer, bytes) pairs.
     */
    synchronized PendingCopy downloadLater(CUdeviceptr[] sources, long[] lengths) {
        ctx.makeCurrent();
        long total = 0;
        for (long n : lengths) {
            total += (n + 7) & ~7L;
        }
        PendingCopy c = null;
        for (PendingCopy p : idle) {
            if (p.capacity >= total) {
                c = p;
                break;
            }
        }
        if (c == null) {
            c = new PendingCopy(Math.max(total, 4096));
        } else {
            idle.remove(c);
        }
        CUstream stream = ctx.stream();
        long offset = 0;
        for (int i = 0; i < sources.length; i++) {
            CUdeviceptr src = sources[i];
            long n = lengths[i];
            Pointer dst = c.host.withByteOffset(offset);
            if (n > 0) {
                KernelModule.check(() -> JCudaDriver.cuMemcpyDtoHAsync(dst, src, n, stream),
                        () -> "downloading " + n + " bytes without waiting");
            }
            offset += (n + 7) & ~7L;
        }
        CUevent event = c.done;
        KernelModule.check(() -> JCudaDriver.cuEventRecord(event, stream), () -> "recording a download event");
        c.bytes = total;
        c.taken = false;
        return c;
    }
}
