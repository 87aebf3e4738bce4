package dev.backprop4j.backend.cuda;

import jcuda.jcublas.JCublas2;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.backprop4j.backend.cuda.NativeTools.buildShim;
import static dev.backprop4j.backend.cuda.NativeTools.hasTool;
import static dev.backprop4j.backend.cuda.NativeTools.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The libcublas.so.12 shim's symbol list against the code and the binaries: {@link CublasLoader#SHIM_SYMBOLS} names
 * exactly the JCublas2 methods this package calls, each maps to the C symbol libJCublas2 really calls and imports as
 * {@code @libcublas.so.12}, and the shim (built by the Maven profile, and from source here) exports exactly those
 * symbols as {@code @@libcublas.so.12}. Tests needing gcc, nm or objdump skip, saying so, where the tool is missing.
 * No GPU is needed.
 */
class CublasShimSymbolsTest {

    private static final Set<String> JAVA_ONLY = Set.of("initialize", "setExceptionsEnabled", "setLogLevel");
    private static final String JCUBLAS2_NATIVE = "lib/libJCublas2-12.6.0-linux-x86_64.so";
    private static final Path PACKAGE_SOURCE = Path.of("src/main/java/dev/backprop4j/backend/cuda");

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
                    String method = h.group(1).replace("_1", "_"); // JNI writes a method's '_' as "_1"
                    current = CublasLoader.SHIM_SYMBOLS.containsKey(method) ? method : null;
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
}
