package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backends;
import dev.backprop4j.tensor.DType;
import dev.backprop4j.tensor.Device;
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
 * CUDA detection: never throws, and explains itself in one line on machines without a usable GPU. Where gcc exists,
 * it also runs against a stand-in libcuda.so.1 and libcublas.so.13 (in child JVMs: JCuda loads once per process),
 * which drives the real JCuda bindings through the probe, the context, the allocator and cuBLAS without a GPU.
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
            Cuda.Probe p = assertDoesNotThrow(CudaProbe::run);
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

    // ---- against a stand-in driver -------------------------------------------------------------------------

    @Test
    void aDriverOlderThanCuda13IsReported() throws Exception {
        String out = runOnStandIn(Map.of("FAKE_DRIVER", "12040"), "probe");
        assertTrue(out.contains("PROBE NVIDIA driver too old: it supports CUDA 12.4, the kernels need CUDA 13.0"), out);
    }

    @Test
    void noDeviceIsReported() throws Exception {
        assertTrue(runOnStandIn(Map.of("FAKE_DEVICES", "0"), "probe").contains("PROBE no CUDA device found"));
        String out = runOnStandIn(Map.of("FAKE_CUINIT", "100"), "probe");
        assertTrue(out.contains("PROBE no CUDA device found (cuInit: CUDA_ERROR_NO_DEVICE)"), out);
    }

    /**
     * A usable stand-in: the probe succeeds and describes the device; buffers get the driver's addresses, are
     * reused, survive an out-of-memory retry and go back on emptyCache; a row-major GEMM reaches cuBLAS as the
     * column-major call, on the context's stream, with TF32 only when asked for.
     */
    @Test
    void theWholeChainWorksOnAStandInDriver() throws Exception {
        String out = runOnStandIn(Map.of(), "chain");
        assertTrue(out.contains("PROBE null | 1 | Fake GPU 0 (compute 9.0, 80.0 GiB), driver "), out);
        assertTrue(out.contains("(CUDA 13.0), cuBLAS 13.1.2 ("), out); // a real machine adds its driver's version
        assertTrue(out.contains("libcublas.so.13 via the libcublas.so.12 shim)"), out);
        assertTrue(out.contains("STREAM_CREATE flags=0"), out);
        // a, b, c: 8, 12 and 8 floats, one 512 B block each, at the stand-in's consecutive addresses
        assertTrue(out.contains("ALLOC 0x7f0000000000 512"), out);
        assertTrue(out.contains("BUFFERS a=0x7f0000000000 b=0x7f0000000200 c=0x7f0000000400"), out);
        assertTrue(out.contains("SET_STREAM 0x5757"), out);
        assertTrue(out.contains("MATH 0\nSGEMM opA=0 opB=1 m=3 n=2 k=4 A=0x7f0000000200 lda=3 B=0x7f0000000000 ldb=2 "
                + "C=0x7f0000000400 ldc=3 alpha=1.5 beta=0"), out);
        assertTrue(out.contains("MATH 3\nSGEMM_STRIDED opA=1 opB=0 m=2 n=2 k=3 A=0x7f0000000200 lda=3 sA=4 "
                + "B=0x7f0000000000 ldb=3 sB=0 C=0x7f0000000400 ldc=2 sC=4 batch=2 alpha=1 beta=0.5"), out);
        assertTrue(out.contains("MATH 0\nDGEMM opA=0 opB=0 m=3 n=2 k=1 lda=3 ldb=1 ldc=3 alpha=1 beta=0"), out);
        assertTrue(out.contains("REUSED true"), out);
        assertTrue(out.contains("OOM CUDA out of memory on cuda:0: tried to allocate 1.17 GiB (1258291200 bytes"), out);
        assertTrue(out.contains("SYNC 0x5757"), out);
        assertTrue(out.contains("FREE 0x7f0000000600"), out);
        assertTrue(out.contains("STATS in use 1.50 KiB"), out);
        assertTrue(out.contains("CHAIN OK"), out);
    }

    /** Builds the stand-ins and runs {@link StandInCheck} in a child JVM; returns its output. */
    private String runOnStandIn(Map<String, String> env, String mode) throws Exception {
        assumeTrue(CublasShimTest.hasTool("gcc"), "gcc not found");
        Path lib = tmp.resolve("lib");
        Path cublas = tmp.resolve("cublas13");
        Path classes = tmp.resolve("classes");
        if (!Files.isDirectory(classes)) { // built once per test
            Files.createDirectories(lib);
            Files.writeString(tmp.resolve("cuda.c"), FAKE_CUDA);
            CublasShimTest.run(List.of("gcc", "-shared", "-fPIC", "-Wall", "-Wl,-soname,libcuda.so.1", "-o",
                    lib.resolve("libcuda.so.1").toString(), tmp.resolve("cuda.c").toString()));
            Files.createDirectories(cublas);
            Files.writeString(tmp.resolve("cublas.c"), FAKE_CUBLAS);
            CublasShimTest.run(List.of("gcc", "-shared", "-fPIC", "-Wall", "-Wl,-soname,libcublas.so.13", "-o",
                    cublas.resolve("libcublas.so.13").toString(), tmp.resolve("cublas.c").toString()));
            Path shimDir = Files.createDirectories(
                    classes.resolve(CublasLoader.SHIM_RESOURCE.substring(1)).getParent());
            Files.copy(CublasShimTest.buildShim(tmp.resolve("shim")), shimDir.resolve("libcublas.so.12"));
        }

        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classes + ":" + System.getProperty("java.class.path"),
                "-D" + CublasLoader.PATH_PROPERTY + "=" + cublas, "-Djava.io.tmpdir=" + tmp,
                StandInCheck.class.getName(), mode));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", lib.toString());
        pb.environment().remove("CUDA_VISIBLE_DEVICES");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** Run in a child JVM on the stand-in driver. */
    public static final class StandInCheck {
        public static void main(String[] args) {
            try {
                Cuda.Probe probe = CudaProbe.run();
                System.out.println("PROBE " + probe.reason() + " | " + probe.devices() + " | " + probe.description());
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
            CudaBuffer a = alloc.allocate(DType.FLOAT32, 8);
            CudaBuffer b = alloc.allocate(DType.FLOAT32, 12);
            CudaBuffer c = alloc.allocate(DType.FLOAT32, 8);
            System.out.println("BUFFERS a=0x" + Long.toHexString(a.address()) + " b=0x" + Long.toHexString(b.address())
                    + " c=0x" + Long.toHexString(c.address()));
            System.out.flush();
            CudaBlas blas = CudaBlas.get(ctx);
            blas.gemm(true, false, 1, 2, 3, 4, 1.5, a, 0, b, 0, 0.0, c, 0);
            CudaBlas.setTf32(true);
            blas.gemm(false, true, 2, 2, 2, 3, 1.0, a, 0, b, 4, 0.5, c, 4);
            CudaBlas.setTf32(false);
            CudaBuffer d = alloc.allocate(DType.FLOAT64, 6);
            blas.gemm(false, false, 1, 2, 3, 1, 1.0, d, 0, d, 0, 0.0, d, 0);
            d.release();
            System.out.flush();
            long was = a.address();
            a.release();
            CudaBuffer again = alloc.allocate(DType.INT32, 100);
            System.out.println("REUSED " + (again.address() == was));
            try {
                alloc.allocate(DType.FLOAT32, 300L << 20);
                System.out.println("OOM none");
            } catch (CudaAllocator.OutOfMemoryException e) {
                System.out.println("OOM " + e.getMessage());
            }
            System.out.flush();
            alloc.emptyCache();
            ctx.synchronize();
            System.out.flush();
            System.out.println("STATS " + alloc.stats());
            System.out.println("CHAIN OK");
        }
    }

    /** libcuda.so.1 stand-in: one device, 1 GiB of memory, behaviour tuned by FAKE_* variables; logs to stdout. */
    private static final String FAKE_CUDA = """
            #include <stdio.h>
            #include <stdlib.h>
            typedef unsigned long long dptr;
            static int env(const char *n, int d) { const char *v = getenv(n); return v ? atoi(v) : d; }
            #define LOG(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)
            int cuInit(unsigned flags) { return env("FAKE_CUINIT", 0); }
            int cuDriverGetVersion(int *v) { *v = env("FAKE_DRIVER", 13000); return 0; }
            int cuDeviceGetCount(int *n) { *n = env("FAKE_DEVICES", 1); return 0; }
            int cuDeviceGet(int *d, int i) { if (i >= env("FAKE_DEVICES", 1)) return 101; *d = i; return 0; }
            int cuDeviceGetName(char *name, int len, int dev) { snprintf(name, len, "Fake GPU %d", dev); return 0; }
            int cuDeviceGetAttribute(int *v, int attr, int dev) { *v = attr == 75 ? 9 : 0; return 0; }
            int cuDeviceTotalMem_v2(size_t *b, int dev) { *b = 80ULL << 30; return 0; }
            int cuDevicePrimaryCtxRetain(void **ctx, int dev) { *ctx = (void *) 0xC7C7; return 0; }
            int cuCtxSetCurrent(void *ctx) { return ctx == (void *) 0xC7C7 ? 0 : 201; }
            int cuStreamCreate(void **s, unsigned flags) { LOG("STREAM_CREATE flags=%u\\n", flags); *s = (void *) 0x5757; return 0; }
            int cuStreamSynchronize(void *s) { LOG("SYNC %p\\n", s); return s == (void *) 0x5757 ? 0 : 400; }
            #define CAP (1ULL << 30)
            static dptr next = 0x7f0000000000ULL, used, addr[256], size[256];
            int cuMemAlloc_v2(dptr *p, size_t bytes) {
                if (used + bytes > CAP) { LOG("ALLOC_FAIL %zu\\n", bytes); return 2; }
                for (int i = 0; i < 256; i++) if (addr[i] == 0) { addr[i] = next; size[i] = bytes; break; }
                *p = next; next += bytes; used += bytes;
                LOG("ALLOC 0x%llx %zu\\n", *p, bytes);
                return 0;
            }
            int cuMemFree_v2(dptr p) {
                for (int i = 0; i < 256; i++) if (addr[i] == p) { used -= size[i]; addr[i] = 0; LOG("FREE 0x%llx\\n", p); return 0; }
                LOG("FREE_BAD 0x%llx\\n", p);
                return 1;
            }
            int cuMemGetInfo_v2(size_t *f, size_t *t) { *f = CAP - used; *t = CAP; return 0; }
            """;

    /** libcublas.so.13 stand-in: logs each call with its arguments. */
    private static final String FAKE_CUBLAS = """
            #include <stdio.h>
            #define LOG(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)
            int cublasGetProperty(int type, int *value) { *value = type == 0 ? 13 : type == 1 ? 1 : 2; return 0; }
            int cublasCreate_v2(void **h) { *h = (void *) 0xB1A5; return 0; }
            int cublasSetStream_v2(void *h, void *s) { LOG("SET_STREAM %p\\n", s); return 0; }
            int cublasSetPointerMode_v2(void *h, int mode) { return mode == 0 ? 0 : 7; }
            int cublasSetMathMode(void *h, int mode) { LOG("MATH %d\\n", mode); return 0; }
            int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                               const float *B, int ldb, const float *beta, float *C, int ldc) {
                LOG("SGEMM opA=%d opB=%d m=%d n=%d k=%d A=%p lda=%d B=%p ldb=%d C=%p ldc=%d alpha=%g beta=%g\\n",
                    ta, tb, m, n, k, (void *) A, lda, (void *) B, ldb, (void *) C, ldc, *alpha, *beta);
                return 0;
            }
            int cublasDgemm_v2(void *h, int ta, int tb, int m, int n, int k, const double *alpha, const double *A,
                               int lda, const double *B, int ldb, const double *beta, double *C, int ldc) {
                LOG("DGEMM opA=%d opB=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g\\n",
                    ta, tb, m, n, k, lda, ldb, ldc, *alpha, *beta);
                return 0;
            }
            int cublasSgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k, const float *alpha,
                                          const float *A, int lda, long long sA, const float *B, int ldb, long long sB,
                                          const float *beta, float *C, int ldc, long long sC, int batch) {
                LOG("SGEMM_STRIDED opA=%d opB=%d m=%d n=%d k=%d A=%p lda=%d sA=%lld B=%p ldb=%d sB=%lld C=%p ldc=%d "
                    "sC=%lld batch=%d alpha=%g beta=%g\\n", ta, tb, m, n, k, (void *) A, lda, sA, (void *) B, ldb, sB,
                    (void *) C, ldc, sC, batch, *alpha, *beta);
                return 0;
            }
            int cublasDgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k, const double *alpha,
                                          const double *A, int lda, long long sA, const double *B, int ldb,
                                          long long sB, const double *beta, double *C, int ldc, long long sC,
                                          int batch) {
                return 7;
            }
            """;
}
