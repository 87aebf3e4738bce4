package dev.backprop4j.backend.cuda;

import java.util.Locale;

/**
 * Detection of a usable CUDA setup, in the order things can fail: the JCuda driver natives load (they need
 * {@code libcuda.so.1}, and are extracted to {@code java.io.tmpdir}, which must allow executables); {@code cuInit}
 * succeeds; a device exists; the driver can run our PTX; the GPU has compute capability 8.0 or newer; cuBLAS loads
 * (see {@link CublasLoader}) and answers. The CUDA emulator (a test fixture, src/test/native/cuda-emu) passes every
 * check and is flagged as such, so that {@link Cuda#autoDevice()} never picks it.
 * Every failure becomes a one-line reason; {@link #run()} never throws.
 */
final class CudaProbe {

    /** What detection found: reason null when CUDA is usable; emulated when the devices are the CUDA emulator. */
    record Result(String reason, int devices, String description, boolean emulated) {
    }


    /**
     * The oldest driver that can load our kernels: their PTX is ISA 9.0 (nvcc 13), which needs a driver for
     * CUDA 13.0 (release 580 or newer). {@code cuDriverGetVersion} reports 1000 major + 10 minor.
     */
    static final int MIN_DRIVER_VERSION = 13000;

    /**
     * The oldest GPUs the kernels serve: compute capability 8.0 (A100), as 10 major + minor. The PTX targets
     * compute_80, and the driver refuses to JIT it for anything older.
     */
    static final int MIN_COMPUTE_CAPABILITY = 80;

    static final String NO_DRIVER = "no NVIDIA driver (libcuda.so.1 not found)";

    private CudaProbe() {
    }

    static Result run() {
        try {
            return detect();
        } catch (Throwable t) {
            return fail("CUDA detection failed: " + CublasLoader.firstLine(messages(t)));
        }
    }

    private static Result detect() {
        try {
            CudaContext.initDriver();
        } catch (LinkageError e) {
            return fail(loadFailure(e));
        } catch (RuntimeException e) {
            return fail(initFailure(e.getMessage()));
        }
        int driver = CudaContext.driverVersion();
        int devices = CudaContext.deviceCount();
        if (devices == 0) {
            return fail("no CUDA device found" + visibleDevices());
        }
        if (driver < MIN_DRIVER_VERSION) {
            return fail("NVIDIA driver too old: it supports CUDA " + cudaVersion(driver) + ", the kernels need CUDA "
                    + cudaVersion(MIN_DRIVER_VERSION) + " (driver 580 or newer)");
        }
        String tooOld = tooOldReason(0);
        if (tooOld != null) {
            return fail(tooOld);
        }
        String cublas;
        try {
            cublas = CudaBlas.libraryVersion();
        } catch (LinkageError e) {
            return fail("cuBLAS unavailable: " + loadFailure(e));
        } catch (RuntimeException e) {
            String m = CublasLoader.firstLine(e.getMessage());
            return fail(m.startsWith("cuBLAS unavailable") ? m : "cuBLAS unavailable: " + m);
        }
        String kernelDriver = CudaContext.kernelDriverVersion();
        String description = CudaContext.describeDevice(0)
                + (devices > 1 ? " and " + (devices - 1) + " more device(s)" : "")
                + ", driver " + (kernelDriver != null ? kernelDriver + " " : "") + "(CUDA " + cudaVersion(driver) + ")"
                + ", cuBLAS " + cublas + " (" + CublasLoader.source() + ")";
        return new Result(null, devices, description, CudaContext.isEmulator(0));
    }

    /** Why device {@code index} cannot run the kernels (compute capability below 8.0), or null when it can. */
    static String tooOldReason(int index) {
        int cc = CudaContext.computeCapability(index);
        if (cc >= MIN_COMPUTE_CAPABILITY) {
            return null;
        }
        return "cuda:" + index + " (" + CudaContext.deviceName(index) + ") has compute capability " + cc / 10 + "."
                + cc % 10 + "; backprop4j's kernels need " + MIN_COMPUTE_CAPABILITY / 10 + ".0 or newer (A100, H100, "
                + "L4, RTX 30xx and later)";
    }

    /** The reason for natives that failed to load, from the text of the whole cause chain. */
    static String loadFailure(Throwable e) {
        String text = messages(e);
        if (text.contains("libcuda.so")) {
            return NO_DRIVER;
        }
        if (text.contains("failed to map segment") || text.contains("Operation not permitted")) {
            return "JCuda natives cannot be loaded from java.io.tmpdir=" + System.getProperty("java.io.tmpdir")
                    + " (mounted noexec?); start Java with -Djava.io.tmpdir=<a folder that allows executables>";
        }
        if (!CublasLoader.linkerFinds("libcuda.so.1")) {
            return NO_DRIVER; // the loader's own message was lost (JCuda's classes failed earlier, elsewhere)
        }
        for (String line : text.split("\n")) {
            String l = line.trim();
            if (l.startsWith("java.lang.UnsatisfiedLinkError: /")) {
                return "JCuda natives failed to load: " + l.substring("java.lang.UnsatisfiedLinkError: ".length());
            }
        }
        return "JCuda natives failed to load: " + CublasLoader.firstLine(text);
    }

    /** The reason for a failed cuInit, from the CUresult name JCuda puts in the exception. */
    static String initFailure(String result) {
        String r = String.valueOf(result);
        return switch (r) {
            case "CUDA_ERROR_NO_DEVICE" -> "no CUDA device found (cuInit: CUDA_ERROR_NO_DEVICE)" + visibleDevices();
            case "CUDA_ERROR_INSUFFICIENT_DRIVER" -> "NVIDIA driver too old (cuInit: CUDA_ERROR_INSUFFICIENT_DRIVER)";
            case "CUDA_ERROR_STUB_LIBRARY" -> "libcuda.so.1 is the CUDA toolkit's stub, not a driver "
                    + "(cuInit: CUDA_ERROR_STUB_LIBRARY); install the NVIDIA driver";
            default -> "cuInit failed: " + CublasLoader.firstLine(r);
        };
    }

    private static String visibleDevices() {
        String v = System.getenv("CUDA_VISIBLE_DEVICES");
        return v == null ? "" : " (CUDA_VISIBLE_DEVICES=" + v + ")";
    }

    private static String cudaVersion(int v) {
        return String.format(Locale.ROOT, "%d.%d", v / 1000, (v % 1000) / 10);
    }

    /** Messages of e and its causes, one after another (JCuda nests the real loader error in the text). */
    private static String messages(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 100_000; t = t.getCause()) {
            sb.append(t.getClass().getName()).append(": ").append(t.getMessage()).append('\n');
        }
        return sb.toString();
    }

    private static Result fail(String reason) {
        return new Result(reason.replace('\n', ' ').trim(), 0, null, false);
    }
}
