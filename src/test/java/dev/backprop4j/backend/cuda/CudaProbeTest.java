package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * CUDA detection: never throws, and explains itself in one line on machines without a usable GPU. Where the CUDA
 * emulator was built (g++), it also runs on it in child JVMs (JCuda loads once per process), each pretending to be
 * another device (too old a driver, no device, compute capability 7.5...), which drives the real JCuda bindings
 * through the probe, the context, the allocator and cuBLAS without a GPU.
 */
class CudaProbeTest {

    @TempDir
    Path tmp;

    /** How every reason starts, one phrase per way detection can fail. */
    private static final List<String> PHRASES = List.of("no NVIDIA driver", "JCuda natives", "no CUDA device",
            "NVIDIA driver too old", "libcuda.so.1 is the CUDA toolkit's stub", "cuInit failed", "cuBLAS unavailable",
            "CUDA detection failed");

    @Test
    void probeNeverThrowsAndReportsOneLine() {
        for (int i = 0; i < 2; i++) { // the second run meets JCuda's classes in whatever state the first left them
            CudaProbe.Result p = assertDoesNotThrow(CudaProbe::run);
            if (p.reason() == null) {
                assertTrue(p.devices() > 0, "usable CUDA with no device");
                assertNotNull(p.description());
            } else {
                assertFalse(p.reason().contains("\n"), p.reason());
                assertTrue(PHRASES.stream().anyMatch(p.reason()::startsWith), "unexpected reason: " + p.reason());
                assertEquals(0, p.devices());
            }
        }
    }

    @Test
    void withoutLibcudaTheReasonIsNoDriver() {
        assumeFalse(CublasLoader.linkerFinds("libcuda.so.1"), "libcuda.so.1 is installed here");
        assertEquals(CudaProbe.NO_DRIVER, CudaProbe.run().reason());
        assertEquals(CudaProbe.NO_DRIVER, Cuda.unavailableReason());
        assertEquals(0, Cuda.deviceCount());
    }

    @Test
    void askingForAnUnavailableCudaDeviceThrowsWithTheReason() {
        assumeFalse(Cuda.isAvailable(), "CUDA is usable here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.of(Device.cuda(0)));
        assertTrue(e.getMessage().startsWith("CUDA unavailable: "), e.getMessage());
        assertEquals("CUDA unavailable: " + Cuda.unavailableReason(), e.getMessage());
    }

    @Test
    void loaderFailuresAreClassified() {
        assertEquals(CudaProbe.NO_DRIVER, CudaProbe.loadFailure(new UnsatisfiedLinkError(
                "Error while loading native library\njava.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver.so: "
                        + "libcuda.so.1: cannot open shared object file: No such file or directory")));
        String noexec = CudaProbe.loadFailure(new UnsatisfiedLinkError(
                "/tmp/libJCudaDriver.so: /tmp/libJCudaDriver.so: failed to map segment from shared object"));
        assertTrue(noexec.startsWith("JCuda natives cannot be loaded from java.io.tmpdir="), noexec);
        assertTrue(noexec.contains("-Djava.io.tmpdir="), noexec);
        String other = CudaProbe.loadFailure(new NoClassDefFoundError("Could not initialize class X"));
        if (CublasLoader.linkerFinds("libcuda.so.1")) {
            assertTrue(other.startsWith("JCuda natives failed to load: "), other);
        } else { // the loader's message is lost, but libcuda.so.1 is visibly missing
            assertEquals(CudaProbe.NO_DRIVER, other);
        }
    }

    @Test
    void cuInitFailuresAreClassified() {
        assertTrue(CudaProbe.initFailure("CUDA_ERROR_NO_DEVICE").startsWith("no CUDA device found"));
        assertTrue(CudaProbe.initFailure("CUDA_ERROR_INSUFFICIENT_DRIVER").startsWith("NVIDIA driver too old"));
        assertTrue(CudaProbe.initFailure("CUDA_ERROR_STUB_LIBRARY").startsWith("libcuda.so.1 is the CUDA toolkit's stub"));
        assertEquals("cuInit failed: CUDA_ERROR_UNKNOWN", CudaProbe.initFailure("CUDA_ERROR_UNKNOWN"));
    }

    // ---- on the CUDA emulator, with the device it pretends to be chosen per child JVM ---------------------------

    @Test
    void aDriverOlderThanCuda13IsReported() throws Exception {
        String out = probeOn(Map.of("CUDA_EMU_DRIVER_VERSION", "12040"));
        assertTrue(out.contains("PROBE NVIDIA driver too old: it supports CUDA 12.4, the kernels need CUDA 13.0"), out);
    }

    @Test
    void noDeviceIsReported() throws Exception {
        assertTrue(probeOn(Map.of("CUDA_EMU_DEVICES", "0")).contains("PROBE no CUDA device found"));
        String out = probeOn(Map.of("CUDA_EMU_INIT_RESULT", "100"));
        assertTrue(out.contains("PROBE no CUDA device found (cuInit: CUDA_ERROR_NO_DEVICE)"), out);
    }

    @Test
    void aGpuBelowComputeCapability8IsRefusedWithTheReason() throws Exception {
        String out = probeOn(Map.of("CUDA_EMU_COMPUTE", "7.5", "CUDA_EMU_NAME", "Tesla T4"));
        assertTrue(out.contains("PROBE cuda:0 (Tesla T4) has compute capability 7.5; backprop4j's kernels need 8.0 or "
                + "newer (A100, H100, L4, RTX 30xx and later) | 0 | null"), out);
        assertTrue(out.contains("AUTO cpu"), out);
    }

    /** The emulator passes every check but is never what auto picks: it is a test fixture, slower than the CPU. */
    @Test
    void autoNeverPicksTheEmulator() throws Exception {
        String out = probeOn(Map.of());
        assertTrue(out.contains("PROBE null | 1 | backprop4j CUDA emulator (compute 9.0, 4.0 GiB), driver (CUDA 13.0), "
                + "cuBLAS 13.0.0 ("), out);
        assertTrue(out.contains("libcublas.so.13 via the libcublas.so.12 shim)"), out);
        assertTrue(out.contains("backprop4j: device auto -> cpu (only the CUDA emulator, a test fixture, is present"),
                out);
        assertTrue(out.contains("AUTO cpu"), out);
    }

    /**
     * The chain below the backend on the emulator: buffers get the driver's memory, are reused, survive an
     * out-of-memory retry and go back on emptyCache; row-major GEMMs (transposed, batched with a shared operand,
     * float64) come out right through the real JCublas2 and shim; TF32 rounds the inputs only when asked for.
     */
    @Test
    void theWholeChainWorksOnTheEmulator() throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of("CUDA_EMU_MEMORY", "1G"), StandInCheck.class, "chain");
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("GEMM ok"), out);
        assertTrue(out.contains("BATCHED ok"), out);
        assertTrue(out.contains("DGEMM ok"), out);
        assertTrue(out.contains("TF32 applied"), out);
        assertTrue(out.contains("REUSED true"), out);
        assertTrue(out.contains("OOM CUDA out of memory on cuda:0: tried to allocate 1.17 GiB (1258291200 bytes"), out);
        assertTrue(out.contains("STATS in use 0 B"), out);
        assertTrue(out.contains("CHAIN OK"), out);
    }

    @Test
    void virtualEnvironmentsAreSearchedForCublas(@TempDir Path root) throws Exception {
        Path home = root.resolve("home/user");
        Path cwd = root.resolve("work/project");
        List<Path> venvs = List.of(root.resolve("opt/trainer/.venv/lib/python3.12/site-packages"),
                root.resolve("opt/other/venv/lib/python3.11/site-packages"),
                home.resolve(".virtualenvs/torch/lib/python3.12/site-packages"),
                home.resolve(".pyenv/versions/3.12.4/lib/python3.12/site-packages"),
                cwd.resolve(".venv/lib/python3.12/site-packages"));
        for (Path v : venvs) {
            Files.createDirectories(v.resolve("nvidia/cu13/lib"));
        }
        List<Path> dirs = CublasLoader.searchDirs(root, home, cwd, Map.of());
        for (Path v : venvs) {
            assertTrue(dirs.contains(v.resolve("nvidia/cu13/lib")), v + " not searched: " + dirs);
        }
    }

    private static String probeOn(Map<String, String> env) throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(env, StandInCheck.class, "probe");
        assertEquals(0, run.exitCode(), run.output());
        return run.output();
    }

    /** Run in a child JVM on the emulator. */
    public static final class StandInCheck {
        public static void main(String[] args) {
            try {
                CudaProbe.Result probe = CudaProbe.run();
                System.out.println("PROBE " + probe.reason() + " | " + probe.devices() + " | " + probe.description());
                System.out.println("AUTO " + Cuda.autoDevice());
                if (args[0].equals("chain")) {
                    chain();
                }
                System.out.flush();
                System.exit(0);
            } catch (Throwable t) {
                t.printStackTrace(System.out);
                System.exit(1);
            }
        }

        private static void chain() {
            CudaContext ctx = CudaContext.get(0);
            CudaAllocator alloc = ctx.allocator();
            CudaMemcpy copy = new CudaMemcpy(ctx);
            CudaBlas blas = CudaBlas.get(ctx);
            // C [2, 3] = 1.5 A^T B with A stored [4, 2], B [4, 3]
            float[] a = {1, 2, 3, 4, 5, 6, 7, 8};
            float[] b = {1, 0, 2, 0, 1, 0, 3, 1, 1, 0.5f, 2, 1};
            CudaBuffer da = upload(alloc, copy, a);
            CudaBuffer db = upload(alloc, copy, b);
            CudaBuffer dc = upload(alloc, copy, new float[6]);
            blas.gemm(true, false, 1, 2, 3, 4, 1.5, da, 0, db, 0, 0.0, dc, 0, false);
            check("GEMM", new float[] {29.25f, 33, 21, 36, 39, 27}, download(copy, dc, 6));
            // two C [2, 2] = A_i [2, 2] B^T with B [2, 2] shared (stride 0), beta 1 on C = 1
            CudaBuffer dc2 = upload(alloc, copy, new float[] {1, 1, 1, 1, 1, 1, 1, 1});
            CudaBuffer da2 = upload(alloc, copy, new float[] {1, 2, 3, 4, 5, 6, 7, 8});
            CudaBuffer db2 = upload(alloc, copy, new float[] {1, 0, 1, 1});
            blas.gemm(false, true, 2, 2, 2, 2, 1.0, da2, 4, db2, 0, 1.0, dc2, 4, false);
            check("BATCHED", new float[] {2, 4, 4, 8, 6, 12, 8, 16}, download(copy, dc2, 8));
            CudaBuffer dd = alloc.allocate(dev.backprop4j.core.DType.FLOAT64, 4);
            copy.upload(dd.pointer(), 32, buf -> buf.asDoubleBuffer().put(new double[] {1, 2, 3, 4}));
            CudaBuffer de = alloc.allocate(dev.backprop4j.core.DType.FLOAT64, 4);
            blas.gemm(false, false, 1, 2, 2, 2, 1.0, dd, 0, dd, 0, 0.0, de, 0, false);
            double[] d = new double[4];
            copy.download(de.pointer(), jcuda.Pointer.to(d), 32);
            System.out.println(java.util.Arrays.equals(d, new double[] {7, 10, 15, 22}) ? "DGEMM ok"
                    : "DGEMM wrong " + java.util.Arrays.toString(d));
            // 1 + 2^-12 is exact in FP32 and rounds to 1 in TF32 (10 mantissa bits)
            CudaBuffer one = upload(alloc, copy, new float[] {1 + 0x1p-12f});
            CudaBuffer out = upload(alloc, copy, new float[1]);
            CudaBlas.setTf32(true);
            blas.gemm(false, false, 1, 1, 1, 1, 1.0, one, 0, one, 0, 0.0, out, 0, false);
            CudaBlas.setTf32(false);
            System.out.println(download(copy, out, 1)[0] == 1.0f ? "TF32 applied" : "TF32 not applied");
            for (CudaBuffer x : new CudaBuffer[] {db, dc, dc2, da2, db2, dd, de, one, out}) {
                x.release();
            }
            long was = da.address();
            da.release();
            CudaBuffer again = alloc.allocate(dev.backprop4j.core.DType.INT32, 100);
            System.out.println("REUSED " + (again.address() == was));
            again.release();
            try {
                alloc.allocate(dev.backprop4j.core.DType.FLOAT32, 300L << 20);
                System.out.println("OOM none");
            } catch (dev.backprop4j.backend.DeviceOutOfMemoryException e) {
                System.out.println("OOM " + e.getMessage());
            }
            alloc.emptyCache();
            ctx.synchronize();
            System.out.println("STATS " + alloc.stats());
            System.out.println("CHAIN OK");
        }

        private static CudaBuffer upload(CudaAllocator alloc, CudaMemcpy copy, float[] v) {
            CudaBuffer b = alloc.allocate(dev.backprop4j.core.DType.FLOAT32, v.length);
            copy.upload(b.pointer(), 4L * v.length, buf -> buf.asFloatBuffer().put(v));
            return b;
        }

        private static float[] download(CudaMemcpy copy, CudaBuffer b, int n) {
            float[] out = new float[n];
            copy.download(b.pointer(), jcuda.Pointer.to(out), 4L * n);
            return out;
        }

        private static void check(String what, float[] expected, float[] actual) {
            System.out.println(java.util.Arrays.equals(expected, actual) ? what + " ok"
                    : what + " wrong: " + java.util.Arrays.toString(actual) + ", expected "
                    + java.util.Arrays.toString(expected));
        }
    }
}
