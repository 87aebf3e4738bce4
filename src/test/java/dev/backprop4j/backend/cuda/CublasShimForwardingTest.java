package dev.backprop4j.backend.cuda;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasGemmAlgo;
import jcuda.jcublas.cublasHandle;
import jcuda.runtime.cudaStream_t;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.backprop4j.backend.cuda.NativeTools.buildShim;
import static dev.backprop4j.backend.cuda.NativeTools.hasTool;
import static dev.backprop4j.backend.cuda.NativeTools.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Calls made through JCublas2 arrive with every argument intact in libcublas.so.13, through the libcublas.so.12
 * shim: a stand-in libcublas.so.13 (src/test/native/cublas13-standin) accepts only the exact arguments passed. Needs
 * gcc (skips, saying so, without it); no GPU.
 */
class CublasShimForwardingTest {
    private static final Path STANDIN = Path.of("src/test/native/cublas13-standin/fake_cublas13.c");

    @TempDir
    Path tmp;

    /**
     * Builds a stand-in libcublas.so.13 (and libcublasLt.so.13, which it needs) whose functions succeed only for
     * the exact arguments {@link ForwardingCheck} passes, and runs that check in a fresh JVM (loading cuBLAS is once
     * per process, and this one may need the real library later).
     */
    @Test
    void jcublas2CallsReachLibcublas13ThroughTheShimWithEveryArgument() throws Exception {
        assumeTrue(hasTool("gcc"), "gcc not found");
        Path lib13 = Files.createDirectories(tmp.resolve("cuda13"));
        Files.writeString(tmp.resolve("lt.c"), "int cublasLtGetVersion(void) { return 130000; }\n");
        run(List.of("gcc", "-shared", "-fPIC", "-Wl,-soname,libcublasLt.so.13", "-o",
                lib13.resolve("libcublasLt.so.13").toString(), tmp.resolve("lt.c").toString()));
        Files.writeString(tmp.resolve("fake13.map"), "libcublas.so.13 { global: cublas*; local: *; };\n");
        run(List.of("gcc", "-shared", "-fPIC", "-Wall", "-Wl,-soname,libcublas.so.13",
                "-Wl,--version-script=" + tmp.resolve("fake13.map"), "-o", lib13.resolve("libcublas.so.13").toString(),
                STANDIN.toAbsolutePath().toString(), "-L" + lib13, "-Wl,--no-as-needed", "-l:libcublasLt.so.13"));
        Path classes = tmp.resolve("classes");
        Path shimDir = Files.createDirectories(classes.resolve(CublasLoader.SHIM_RESOURCE.substring(1)).getParent());
        Files.copy(buildShim(tmp.resolve("shim")), shimDir.resolve("libcublas.so.12"),
                StandardCopyOption.REPLACE_EXISTING);

        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = List.of(java.toString(), "-cp", classes + ":" + System.getProperty("java.class.path"),
                "-D" + CublasLoader.PATH_PROPERTY + "=" + lib13, "-Djava.io.tmpdir=" + tmp,
                ForwardingCheck.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("FORWARDING OK cuBLAS 13.77.5"), out);
    }

    /** Run in a child JVM by the test above. */
    public static final class ForwardingCheck {
        public static void main(String[] args) {
            try {
                String reason = CublasLoader.ensureLoaded();
                if (reason != null) {
                    throw new AssertionError(reason);
                }
                if (!CublasLoader.source().endsWith("libcublas.so.13 via the libcublas.so.12 shim")) {
                    throw new AssertionError("loaded " + CublasLoader.source());
                }
                String version = CudaBlas.libraryVersion();
                if (!version.equals("13.77.5")) {
                    throw new AssertionError("cublasGetProperty gave " + version);
                }
                cublasHandle h = new cublasHandle();
                JCublas2.cublasCreate(h);
                JCublas2.cublasSetStream(h, new cudaStream_t());
                JCublas2.cublasSetPointerMode(h, 0);
                JCublas2.cublasSetMathMode(h, 3);
                JCublas2.cublasSgemm(h, 1, 0, 2, 3, 4, Pointer.to(new float[] {1.5f}), at(0x1000), 5, at(0x2000), 6,
                        Pointer.to(new float[] {-2f}), at(0x3000), 7);
                JCublas2.cublasDgemm(h, 1, 0, 2, 3, 4, Pointer.to(new double[] {1.25}), at(0x1000), 5, at(0x2000), 6,
                        Pointer.to(new double[] {-0.5}), at(0x3000), 7);
                JCublas2.cublasSgemmStridedBatched(h, 1, 0, 2, 3, 4, Pointer.to(new float[] {1.5f}), at(0x1000), 5,
                        1L << 40, at(0x2000), 6, 0L, Pointer.to(new float[] {-2f}), at(0x3000), 7, 123_456_789L, 9);
                JCublas2.cublasDgemmStridedBatched(h, 1, 0, 2, 3, 4, Pointer.to(new double[] {1.25}), at(0x1000), 5,
                        1L << 40, at(0x2000), 6, 0L, Pointer.to(new double[] {-0.5}), at(0x3000), 7, 123_456_789L, 9);
                JCublas2.cublasGemmEx_new(h, 1, 0, 2, 3, 4, Pointer.to(new float[] {1.5f}), at(0x1000),
                        cudaDataType.CUDA_R_16BF, 5, at(0x2000), cudaDataType.CUDA_R_16BF, 6,
                        Pointer.to(new float[] {-2f}), at(0x3000), cudaDataType.CUDA_R_32F, 7,
                        cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
                JCublas2.cublasGemmStridedBatchedEx_new(h, 1, 0, 2, 3, 4, Pointer.to(new float[] {1.5f}),
                        at(0x1000), cudaDataType.CUDA_R_16BF, 5, 1L << 40, at(0x2000), cudaDataType.CUDA_R_16BF, 6, 0L,
                        Pointer.to(new float[] {-2f}), at(0x3000), cudaDataType.CUDA_R_32F, 7, 123_456_789L, 9,
                        cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
                try { // the stand-in really checks: one wrong argument must fail
                    JCublas2.cublasSgemm(h, 1, 0, 2, 3, 4, Pointer.to(new float[] {1.5f}), at(0x1000), 5, at(0x2000),
                            6, Pointer.to(new float[] {-2f}), at(0x3000), 8);
                    throw new AssertionError("a wrong ldc went through");
                } catch (CudaException expected) {
                    // CUBLAS_STATUS_INVALID_VALUE from the stand-in
                }
                System.out.println("FORWARDING OK cuBLAS " + version);
                System.exit(0);
            } catch (Throwable t) {
                t.printStackTrace(System.out);
                System.exit(1);
            }
        }

        private static Pointer at(long address) {
            return CudaBuffer.pointerAt(address);
        }
    }
}
