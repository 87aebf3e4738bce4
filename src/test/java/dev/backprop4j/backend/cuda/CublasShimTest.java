package dev.backprop4j.backend.cuda;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.runtime.cudaStream_t;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The libcublas.so.12 shim and the cuBLAS calls that go through it. {@link CublasLoader#SHIM_SYMBOLS} is the one
 * list; these tests check that it names exactly the JCublas2 methods this package calls, that each maps to the C
 * symbol libJCublas2 really calls and imports as {@code @libcublas.so.12}, that the shim (built by the Maven profile,
 * and from source here) exports exactly those symbols as {@code @@libcublas.so.12}, and that calls made through
 * JCublas2 arrive with every argument intact in a stand-in libcublas.so.13. Tests needing gcc, nm or objdump skip,
 * saying so, where the tool is missing. No GPU is needed.
 */
class CublasShimTest {

    private static final Set<String> JAVA_ONLY = Set.of("initialize", "setExceptionsEnabled", "setLogLevel");
    private static final String JCUBLAS2_NATIVE = "lib/libJCublas2-12.6.0-linux-x86_64.so";
    private static final Path PACKAGE_SOURCE = Path.of("src/main/java/dev/backprop4j/backend/cuda");
    private static final Path SHIM_SOURCE = Path.of("src/main/native/cublas12-shim");

    @TempDir
    Path tmp;

    // ---- the list against the code ------------------------------------------------------------------

    /**
     * The guard against aborts: a cuBLAS function the shim does not forward kills the JVM when called. Every
     * JCublas2 call anywhere in the sources (main, tests, benchmarks) must be in the list, the list must be exactly
     * what the main code calls, and nothing may reach cuBLAS another way (static imports, the legacy JCublas).
     */
    @Test
    void everyCublasCallInTheSourcesIsOneTheShimForwards() throws IOException {
        assumeTrue(Files.isDirectory(PACKAGE_SOURCE), "sources not found from " + Path.of("").toAbsolutePath());
        Pattern call = Pattern.compile("\\bJCublas2\\s*\\.\\s*(\\w+)\\s*\\(");
        Pattern legacy = Pattern.compile("import\\s+static\\s+jcuda\\.jcublas\\.|\\bjcuda\\.jcublas\\.JCublas\\b|"
                + "import\\s+jcuda\\.jcublas\\.\\*");
        Set<String> calledInMain = new TreeSet<>();
        Map<String, String> calledAnywhere = new TreeMap<>();
        for (String root : List.of("src/main/java", "src/test/java", "src/jmh/java")) {
            if (!Files.isDirectory(Path.of(root))) {
                continue;
            }
            try (Stream<Path> files = Files.walk(Path.of(root))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    String src = Files.readString(f).replaceAll("\"(?:\\\\.|[^\"\\\\\n])*\"", "\"\""); // not strings
                    Matcher l = legacy.matcher(src);
                    if (l.find()) {
                        fail(f + " reaches cuBLAS without a visible JCublas2.name(...) call: " + l.group());
                    }
                    for (Matcher m = call.matcher(src); m.find(); ) {
                        calledAnywhere.putIfAbsent(m.group(1), f.toString());
                        if (root.equals("src/main/java")) {
                            calledInMain.add(m.group(1));
                        }
                    }
                }
            }
        }
        JAVA_ONLY.forEach(calledAnywhere::remove);
        calledInMain.removeAll(JAVA_ONLY);
        for (Map.Entry<String, String> e : calledAnywhere.entrySet()) {
            assertTrue(CublasLoader.SHIM_SYMBOLS.containsKey(e.getKey()), e.getValue() + " calls JCublas2." + e.getKey()
                    + ", which the libcublas.so.12 shim does not forward (it would abort the JVM on CUDA 13): add it "
                    + "to CublasLoader.SHIM_SYMBOLS and to the shim, or call something else");
        }
        assertEquals(new TreeSet<>(CublasLoader.SHIM_SYMBOLS.keySet()), calledInMain,
                "CublasLoader.SHIM_SYMBOLS must list exactly the JCublas2 methods the library calls");
    }

    @Test
    void libJCublas2ImportsEachListedSymbolWithVersionLibcublas12() throws Exception {
        assumeTrue(hasTool("nm"), "nm not found");
        Set<String> imports = nmSymbols(jcublas2Native(), "--undefined-only");
        for (String symbol : CublasLoader.SHIM_SYMBOLS.values()) {
            assertTrue(imports.contains(symbol + "@libcublas.so.12"), "libJCublas2 does not import " + symbol
                    + "@libcublas.so.12");
        }
    }

    @Test
    void eachJniWrapperCallsTheListedSymbol() throws Exception {
        assumeTrue(hasTool("objdump"), "objdump not found");
        Path lib = jcublas2Native();
        Map<String, Set<String>> calls = new TreeMap<>();
        Pattern head = Pattern.compile("^[0-9a-f]+ <Java_jcuda_jcublas_JCublas2_(\\w+)Native>:$");
        Pattern plt = Pattern.compile("call\\s.*<(cublas\\w+)@plt>");
        String current = null;
        Process p = new ProcessBuilder("objdump", "-d", "--no-show-raw-insn", lib.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader r = p.inputReader(StandardCharsets.UTF_8)) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                Matcher h = head.matcher(line);
                if (h.matches()) {
                    current = CublasLoader.SHIM_SYMBOLS.containsKey(h.group(1)) ? h.group(1) : null;
                    if (current != null) {
                        calls.put(current, new TreeSet<>());
                    }
                } else if (line.isEmpty()) {
                    current = null;
                } else if (current != null) {
                    Matcher c = plt.matcher(line);
                    if (c.find()) {
                        calls.get(current).add(c.group(1));
                    }
                }
            }
        }
        assertEquals(0, p.waitFor());
        for (Map.Entry<String, String> e : CublasLoader.SHIM_SYMBOLS.entrySet()) {
            assertEquals(Set.of(e.getValue()), calls.get(e.getKey()),
                    "JCublas2." + e.getKey() + " calls these cuBLAS functions");
        }
    }

    // ---- the shim's exports -------------------------------------------------------------------------

    @Test
    void theShimBuiltFromSourceExportsExactlyTheListAsLibcublas12() throws Exception {
        assumeTrue(hasTool("gcc") && hasTool("nm"), "gcc or nm not found");
        assertExports(buildShim(tmp.resolve("shim")));
    }

    @Test
    void theShimInTheBuildOutputExportsExactlyTheListAsLibcublas12() throws Exception {
        assumeTrue(hasTool("nm"), "nm not found");
        Path shim = tmp.resolve("libcublas.so.12");
        try (InputStream in = CublasLoader.class.getResourceAsStream(CublasLoader.SHIM_RESOURCE)) {
            assumeTrue(in != null, "no shim on the classpath: the build ran without gcc (profile cublas12-shim)");
            Files.copy(in, shim);
        }
        assertExports(shim);
    }

    private static void assertExports(Path shim) throws Exception {
        Set<String> exported = new TreeSet<>();
        for (String s : nmSymbols(shim, "--defined-only")) {
            if (s.startsWith("cublas")) {
                assertTrue(s.endsWith("@@libcublas.so.12"), s + " is not exported as version libcublas.so.12");
                exported.add(s.substring(0, s.indexOf('@')));
            }
        }
        assertEquals(new TreeSet<>(CublasLoader.SHIM_SYMBOLS.values()), exported, "the shim's exports");
        if (hasTool("readelf")) {
            String dyn = run(List.of("readelf", "-d", shim.toString()));
            assertTrue(dyn.contains("Library soname: [libcublas.so.12]"), dyn);
        }
    }

    // ---- calls through JCublas2, the shim and a stand-in libcublas.so.13 ------------------------------

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
        Files.writeString(tmp.resolve("fake13.c"), FAKE_CUBLAS13);
        Files.writeString(tmp.resolve("fake13.map"), "libcublas.so.13 { global: cublas*; local: *; };\n");
        run(List.of("gcc", "-shared", "-fPIC", "-Wall", "-Wl,-soname,libcublas.so.13",
                "-Wl,--version-script=" + tmp.resolve("fake13.map"), "-o", lib13.resolve("libcublas.so.13").toString(),
                tmp.resolve("fake13.c").toString(), "-L" + lib13, "-Wl,--no-as-needed", "-l:libcublasLt.so.13"));
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

    private static final String FAKE_CUBLAS13 = """
            #include <stddef.h>
            typedef void *handle_t;
            #define H ((handle_t) 0xC0B1A5)
            #define BAD 7
            int cublasGetProperty(int type, int *value) {
                static const int v[] = {13, 77, 5};
                if (type < 0 || type > 2) return BAD;
                *value = v[type];
                return 0;
            }
            int cublasCreate_v2(handle_t *h) { *h = H; return 0; }
            int cublasSetStream_v2(handle_t h, void *s) { return h == H && s == NULL ? 0 : BAD; }
            int cublasSetPointerMode_v2(handle_t h, int mode) { return h == H && mode == 0 ? 0 : BAD; }
            int cublasSetMathMode(handle_t h, int mode) { return h == H && mode == 3 ? 0 : BAD; }
            static int same(handle_t h, int ta, int tb, int m, int n, int k, const void *A, int lda, const void *B,
                            int ldb, void *C, int ldc) {
                return h == H && ta == 1 && tb == 0 && m == 2 && n == 3 && k == 4 && lda == 5 && ldb == 6 && ldc == 7
                    && A == (void *) 0x1000 && B == (void *) 0x2000 && C == (void *) 0x3000;
            }
            static int strides(long long sA, long long sB, long long sC, int batch) {
                return sA == (1LL << 40) && sB == 0 && sC == 123456789LL && batch == 9;
            }
            int cublasSgemm_v2(handle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                               int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
                return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && *alpha == 1.5f && *beta == -2.0f ? 0 : BAD;
            }
            int cublasDgemm_v2(handle_t h, int ta, int tb, int m, int n, int k, const double *alpha, const double *A,
                               int lda, const double *B, int ldb, const double *beta, double *C, int ldc) {
                return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && *alpha == 1.25 && *beta == -0.5 ? 0 : BAD;
            }
            int cublasSgemmStridedBatched(handle_t h, int ta, int tb, int m, int n, int k, const float *alpha,
                                          const float *A, int lda, long long sA, const float *B, int ldb, long long sB,
                                          const float *beta, float *C, int ldc, long long sC, int batch) {
                return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && strides(sA, sB, sC, batch)
                    && *alpha == 1.5f && *beta == -2.0f ? 0 : BAD;
            }
            int cublasDgemmStridedBatched(handle_t h, int ta, int tb, int m, int n, int k, const double *alpha,
                                          const double *A, int lda, long long sA, const double *B, int ldb,
                                          long long sB, const double *beta, double *C, int ldc, long long sC,
                                          int batch) {
                return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && strides(sA, sB, sC, batch)
                    && *alpha == 1.25 && *beta == -0.5 ? 0 : BAD;
            }
            """;

    // ---- the arguments CudaBlas gives cuBLAS -------------------------------------------------------------

    /**
     * The row-major-on-column-major mapping of {@link CudaBlas}: a column-major GEMM with cuBLAS's argument rules,
     * given {@link CudaBlas.ColumnMajor}'s operands, sizes and leading dimensions, yields the row-major product.
     */
    @Test
    void theColumnMajorCallComputesTheRowMajorProduct() {
        Random rnd = new Random(7);
        int[] sizes = {0, 1, 3, 7};
        for (boolean tA : new boolean[] {false, true}) {
            for (boolean tB : new boolean[] {false, true}) {
                for (int m : sizes) {
                    for (int n : sizes) {
                        for (int k : sizes) {
                            double[] a = random(rnd, m * k);
                            double[] b = random(rnd, k * n);
                            double[] expected = rowMajor(tA, tB, m, n, k, a, b);
                            double[] actual = columnMajor(CudaBlas.ColumnMajor.of(tA, tB, m, n, k), b, a, m * n);
                            assertArrayEquals(expected, actual, 1e-12,
                                    "tA=" + tA + " tB=" + tB + " m=" + m + " n=" + n + " k=" + k);
                        }
                    }
                }
            }
        }
    }

    private static double[] random(Random rnd, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextDouble() * 2 - 1;
        }
        return x;
    }

    /** C = op(A) op(B), row-major, with A stored [k, m] when tA and B stored [n, k] when tB. */
    private static double[] rowMajor(boolean tA, boolean tB, int m, int n, int k, double[] a, double[] b) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
                }
                c[i * n + j] = s;
            }
        }
        return c;
    }

    /** cuBLAS gemm semantics (column-major, op per operand, leading dimensions checked as cuBLAS checks them). */
    private static double[] columnMajor(CudaBlas.ColumnMajor g, double[] x, double[] y, int length) {
        int m = g.m();
        int n = g.n();
        int k = g.k();
        assertTrue(g.ldFirst() >= Math.max(1, g.transFirst() ? k : m), "lda too small: " + g);
        assertTrue(g.ldSecond() >= Math.max(1, g.transSecond() ? n : k), "ldb too small: " + g);
        assertTrue(g.ldc() >= Math.max(1, m), "ldc too small: " + g);
        double[] c = new double[length];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double xv = g.transFirst() ? x[p + i * g.ldFirst()] : x[i + p * g.ldFirst()];
                    double yv = g.transSecond() ? y[j + p * g.ldSecond()] : y[p + j * g.ldSecond()];
                    s += xv * yv;
                }
                c[i + j * g.ldc()] = s;
            }
        }
        return c;
    }

    // ---- tools ------------------------------------------------------------------------------------------

    /** Compiles the shim exactly as the Maven profile does. */
    static Path buildShim(Path dir) throws Exception {
        Files.createDirectories(dir);
        Path out = dir.resolve("libcublas.so.12");
        run(List.of("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Wl,-soname,libcublas.so.12",
                "-Wl,--version-script=" + SHIM_SOURCE.resolve("libcublas12.map").toAbsolutePath(),
                "-Wl,--no-undefined", "-Wl,-z,noexecstack", "-o", out.toString(),
                SHIM_SOURCE.resolve("cublas12_shim.c").toAbsolutePath().toString(),
                "-Wl,--no-as-needed", "-l:libdl.so.2"));
        return out;
    }

    private Path jcublas2Native() throws IOException {
        Path lib = tmp.resolve("libJCublas2.so");
        try (InputStream in = JCublas2.class.getClassLoader().getResourceAsStream(JCUBLAS2_NATIVE)) {
            assertNotNull(in, JCUBLAS2_NATIVE + " is not on the test classpath (jcublas-natives)");
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        }
        return lib;
    }

    /** "name@version" (or "name@@version") of the dynamic symbols nm lists with {@code filter}. */
    private static Set<String> nmSymbols(Path lib, String filter) throws Exception {
        Set<String> out = new HashSet<>();
        for (String line : run(List.of("nm", "-D", "--with-symbol-versions", filter, lib.toString())).split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 2) {
                out.add(f[f.length - 1]);
            }
        }
        return out;
    }

    static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            fail(String.join(" ", cmd) + " failed:\n" + out);
        }
        return out;
    }

    static boolean hasTool(String name) {
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "/usr/bin:/bin" : path).split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }
}
