package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.Device;

/**
 * Entry point to the CUDA backend: detects once whether CUDA is usable (the JCuda driver natives load,
 * {@code libcuda.so.1} is present, a device exists, the driver can run our PTX, cuBLAS loads) and hands
 * out one {@link CudaBackend} per device. Detection never throws; every failure becomes a reason.
 */
public final class Cuda {
    private static volatile Probe probe;
    private static volatile boolean autoLogged;

    private Cuda() {
    }

    /** Why CUDA cannot be used, or null when it can. */
    public static String unavailableReason() {
        return probe().reason;
    }

    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() {
        return probe().devices;
    }

    /**
     * The backend of CUDA device {@code index}.
     *
     * @throws IllegalStateException "CUDA unavailable: reason", or naming the device index when out of range
     */
    public static Backend backend(int index) {
        Probe p = probe();
        if (p.reason != null) {
            throw new IllegalStateException("CUDA unavailable: " + p.reason);
        }
        if (index >= p.devices) {
            throw new IllegalStateException("CUDA unavailable: device cuda:" + index + " does not exist ("
                    + p.devices + " device(s) found)");
        }
        if (index > 0) { // the probe checked cuda:0
            String tooOld = CudaProbe.tooOldReason(index);
            if (tooOld != null) {
                throw new IllegalStateException("CUDA unavailable: " + tooOld);
            }
        }
        return CudaBackend.get(index);
    }

    /**
     * cuda:0 when usable, else the CPU; logs the choice and the reason once. Never the CUDA emulator (a test
     * fixture that runs the kernels on the CPU, far slower than the CPU backend): it must be asked for by name.
     */
    public static Device autoDevice() {
        Probe p = probe();
        String why = p.reason != null ? "CUDA unavailable: " + p.reason
                : p.emulated ? "only the CUDA emulator, a test fixture, is present: " + p.description : null;
        Device d = why == null ? Device.cuda(0) : Device.CPU;
        if (!autoLogged) {
            autoLogged = true;
            System.err.println(why == null
                    ? "backprop4j: device auto -> cuda:0 (" + p.description + ")"
                    : "backprop4j: device auto -> cpu (" + why + ")");
        }
        return d;
    }

    /** Whether the usable CUDA devices are the CUDA emulator (the test fixture), not GPUs. */
    public static boolean isEmulated() {
        return probe().emulated;
    }

    /** One line on the CUDA device found ("NVIDIA H100 ... (compute 9.0, ...), driver ..., cuBLAS ..."), or null. */
    public static String description() {
        return probe().description;
    }

    private static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (Cuda.class) {
                p = probe;
                if (p == null) {
                    p = CudaProbe.run();
                    probe = p;
                }
            }
        }
        return p;
    }

    /** Result of detection: reason null when usable; emulated when the devices are the CUDA emulator. */
    record Probe(String reason, int devices, String description, boolean emulated) {
    }
}
