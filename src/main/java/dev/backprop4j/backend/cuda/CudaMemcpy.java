package dev.backprop4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Copies between Java arrays and device memory, and within the device, on the context's stream.
 * Uploads go through one pinned (page-locked) staging buffer per device and are asynchronous: the host
 * only waits, on an event, before it overwrites the staging buffer for the next upload. Downloads are
 * synchronous copies, which the single blocking stream orders after all queued work.
 */
final class CudaMemcpy {
    private final CudaContext ctx;
    private Pointer staging;
    private long stagingBytes;
    private final CUevent stagingFree = new CUevent();
    private boolean stagingInFlight;

    CudaMemcpy(CudaContext ctx) {
        this.ctx = ctx;
        ctx.makeCurrent();
        KernelModule.check(() -> JCudaDriver.cuEventCreate(stagingFree, 0), () -> "creating the upload event");
    }

    /** Uploads {@code bytes} bytes that {@code fill} writes into the staging buffer (little-endian). */
    synchronized void upload(CUdeviceptr dst, long bytes, java.util.function.Consumer<ByteBuffer> fill) {
        if (bytes == 0) {
            return;
        }
        ctx.makeCurrent();
        if (stagingInFlight) {
            KernelModule.check(() -> JCudaDriver.cuEventSynchronize(stagingFree), () -> "waiting for the last upload");
            stagingInFlight = false;
        }
        if (stagingBytes < bytes) {
            if (staging != null) {
                KernelModule.check(() -> JCudaDriver.cuMemFreeHost(staging), () -> "freeing pinned memory");
            }
            long size = Math.max(bytes, 1 << 20);
            Pointer p = new Pointer();
            KernelModule.check(() -> JCudaDriver.cuMemAllocHost(p, size), () -> "allocating " + size + " bytes of pinned memory");
            staging = p;
            stagingBytes = size;
        }
        ByteBuffer buf = staging.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        fill.accept(buf);
        CUstream stream = ctx.stream();
        KernelModule.check(() -> JCudaDriver.cuMemcpyHtoDAsync(dst, staging, bytes, stream), () -> "uploading " + bytes + " bytes");
        KernelModule.check(() -> JCudaDriver.cuEventRecord(stagingFree, stream), () -> "recording the upload event");
        stagingInFlight = true;
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
