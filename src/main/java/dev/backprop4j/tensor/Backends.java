package dev.backprop4j.tensor;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.cpu.CpuBackend;
import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.Device;

/**
 * Where backends are chosen: the backend of a device, which device "auto" means, and moves of buffers between
 * devices. The CPU backend serves the CPU; {@link Cuda}, the CUDA backend's one entry point, serves the GPUs.
 */
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

    /**
     * cuda:0 when a GPU is usable, else the CPU; says which and why once, on standard error. Never the CUDA emulator
     * (a test fixture).
     */
    public static Device autoDevice() {
        return Cuda.autoDevice();
    }

    /** "cpu", "cuda", "cuda:N" (see {@link Device#parse}) or "auto" ({@link #autoDevice()}). */
    public static Device device(String text) {
        return text.trim().equalsIgnoreCase("auto") ? autoDevice() : Device.parse(text);
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
                case BFLOAT16 -> to.write(dst, ((dev.backprop4j.backend.cpu.CpuBuffer) src).shorts());
            }
        } else {
            switch (src.dtype()) {
                case FLOAT32 -> to.write(dst, from.readFloats(src));
                case FLOAT64 -> to.write(dst, from.readDoubles(src));
                case INT32 -> to.write(dst, from.readInts(src));
                case BFLOAT16 -> to.write(dst, from.readBf16(src));
            }
        }
    }
}
