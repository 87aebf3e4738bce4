package dev.backprop4j.backend;

import dev.backprop4j.backend.cpu.CpuBackend;
import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.tensor.Device;

/** Finds the backend of a device, and moves buffers between devices. */
public final class Backends {

    private Backends() {
    }

    /**
     * The backend of {@code device}.
     *
     * @throws IllegalStateException "CUDA unavailable: reason" when a CUDA device is asked for and cannot be used
     */
    public static Backend of(Device device) {
        return device.isCuda() ? Cuda.backend(device.index()) : CpuBackend.INSTANCE;
    }

    /** cuda:0 when CUDA is usable, else the CPU; says which and why once, on standard error. */
    public static Device autoDevice() {
        return Cuda.autoDevice();
    }

    /** Copies src into dst (same dtype and length) across devices. */
    public static void transfer(Buffer src, Buffer dst) {
        Backend from = of(src.device());
        Backend to = of(dst.device());
        if (src.device().equals(dst.device())) {
            to.copy(src, 0, dst, 0, src.length());
        } else if (!src.device().isCuda()) {
            switch (src.dtype()) {
                case FLOAT32 -> to.write(dst, ((dev.backprop4j.backend.cpu.CpuBuffer) src).floats());
                case FLOAT64 -> to.write(dst, ((dev.backprop4j.backend.cpu.CpuBuffer) src).doubles());
                case INT32 -> to.write(dst, ((dev.backprop4j.backend.cpu.CpuBuffer) src).ints());
            }
        } else {
            switch (src.dtype()) {
                case FLOAT32 -> to.write(dst, from.readFloats(src));
                case FLOAT64 -> to.write(dst, from.readDoubles(src));
                case INT32 -> to.write(dst, from.readInts(src));
            }
        }
    }
}
