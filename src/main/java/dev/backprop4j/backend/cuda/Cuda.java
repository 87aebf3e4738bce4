package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.tensor.Device;

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
        return CudaBackend.get(index);
    }

    /** cuda:0 when usable, else the CPU; logs the choice and the reason once. */
    public static Device autoDevice() {
        Probe p = probe();
        Device d = p.reason == null ? Device.cuda(0) : Device.CPU;
        if (!autoLogged) {
            autoLogged = true;
            System.err.println(p.reason == null
                    ? "backprop4j: device auto -> cuda:0 (" + p.description + ")"
                    : "backprop4j: device auto -> cpu (CUDA unavailable: " + p.reason + ")");
        }
        return d;
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

    /** Result of detection: reason null when usable. */
    record Probe(String reason, int devices, String description) {
    }
}
