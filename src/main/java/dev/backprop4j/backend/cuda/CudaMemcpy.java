package dev.backprop4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * Copies between Java arrays and device memory, and within the device, on the context's stream.
 * Uploads go through a small ring of pinned (page-locked) staging buffers and are asynchronous: before
 * refilling a slot the host waits, on that slot's event, only for the copy that last used it, so uploading a
 * batch's inputs and labels does not wait for the queued training work. Downloads are synchronous copies,
 * which the single blocking stream orders after all queued work.
 */
final class CudaMemcpy {
    private static final int SLOTS = 4;

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
            KernelModule.check(() -> JCudaDriver.cuEventSynchronize(s.done), () -> "waiting for an earlier upload");
            s.inFlight = false;
        }
        if (s.bytes < bytes) {
            if (s.host != null) {
                KernelModule.check(() -> JCudaDriver.cuMemFreeHost(s.host), () -> "freeing pinned memory");
            }
            long size = Math.max(bytes, 1 << 20);
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
}
