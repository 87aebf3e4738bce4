package dev.backprop4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes {@code libcublas.so.12} available to JCuda's {@code libJCublas2} before JCublas2 is first used.
 *
 * <p>JCuda 12.6.0's {@code libJCublas2} has {@code DT_NEEDED libcublas.so.12} and imports versioned symbols
 * ({@code cublasSgemm_v2@libcublas.so.12}). CUDA 13 machines (driver 580+) ship only {@code libcublas.so.13}, often
 * inside a Python wheel. {@link #ensureLoaded()} therefore, in this order:
 * <ol>
 *   <li>with {@code -Dbackprop4j.cublas.path} or {@code BACKPROP4J_CUBLAS_PATH} (a folder, a file in it, or a
 *       colon-separated list of folders) uses that folder only;</li>
 *   <li>does nothing when the dynamic linker finds {@code libcublas.so.12} by itself (LD_LIBRARY_PATH,
 *       {@code /etc/ld.so.cache}, the default folders);</li>
 *   <li>else searches LD_LIBRARY_PATH, {@code /usr/local/cuda*}, the system library folders and the {@code nvidia/*}
 *       folders of Python site-packages (system, {@code ~/.local}, conda, the active virtual environment and the
 *       usual places of inactive ones, such as {@code /opt/<name>/.venv}; see {@link #searchDirs});</li>
 *   <li>a {@code libcublas.so.12} found there is loaded by full path ({@code libcublasLt.so.12} first); its soname
 *       then satisfies libJCublas2's DT_NEEDED;</li>
 *   <li>else, for a {@code libcublas.so.13}, loads {@code libcublasLt.so.13} and {@code libcublas.so.13} by full path,
 *       then the forwarding shim shipped in the jar (soname {@code libcublas.so.12}, built from
 *       {@code src/main/native/cublas12-shim}); the shim's {@code dlopen("libcublas.so.13")} finds the copy already
 *       loaded, by its soname.</li>
 * </ol>
 * The shim defines exactly the functions in {@link #SHIM_SYMBOLS}: backprop4j must call no other cuBLAS function
 * (calling an undefined one through the shim aborts the JVM). CublasShimTest keeps the map, the shim's exports, the
 * symbols libJCublas2 imports and the JCublas2 calls in this package in agreement.
 */
final class CublasLoader {

    static final String PATH_PROPERTY = "backprop4j.cublas.path";
    static final String PATH_ENV = "BACKPROP4J_CUBLAS_PATH";
    /** Where the build puts the shim (Maven profile {@code cublas12-shim}, active where /usr/bin/gcc exists). */
    static final String SHIM_RESOURCE = "/dev/backprop4j/backend/cuda/native/libcublas.so.12";

    /**
     * Every JCublas2 method this package calls that reaches cuBLAS, mapped to the C symbol its JNI code calls.
     * JCublas2 methods that stay in Java ({@code initialize}, {@code setExceptionsEnabled}) are not listed.
     */
    static final Map<String, String> SHIM_SYMBOLS = Map.ofEntries(
            Map.entry("cublasCreate", "cublasCreate_v2"),
            Map.entry("cublasSetStream", "cublasSetStream_v2"),
            Map.entry("cublasSetMathMode", "cublasSetMathMode"),
            Map.entry("cublasSetPointerMode", "cublasSetPointerMode_v2"),
            Map.entry("cublasGetProperty", "cublasGetProperty"),
            Map.entry("cublasSgemm", "cublasSgemm_v2"),
            Map.entry("cublasDgemm", "cublasDgemm_v2"),
            Map.entry("cublasSgemmStridedBatched", "cublasSgemmStridedBatched"),
            Map.entry("cublasDgemmStridedBatched", "cublasDgemmStridedBatched"),
            Map.entry("cublasGemmEx_new", "cublasGemmEx"),
            Map.entry("cublasGemmStridedBatchedEx_new", "cublasGemmStridedBatchedEx"));

    private static final String LIB12 = "libcublas.so.12";
    private static final String LT12 = "libcublasLt.so.12";
    private static final String LIB13 = "libcublas.so.13";
    private static final String LT13 = "libcublasLt.so.13";
    private static final List<String> DEFAULT_LINKER_DIRS = List.of(
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib");

    private static boolean done;
    private static String failure;
    private static String source;

    private CublasLoader() {
    }

    /**
     * Prepares cuBLAS once per process; later calls return the first outcome.
     *
     * @return null when JCublas2 can now be loaded, else a one-line reason starting "cuBLAS unavailable: "
     */
    static synchronized String ensureLoaded() {
        if (!done) {
            try {
                failure = load();
            } catch (RuntimeException | LinkageError e) {
                failure = "cuBLAS unavailable: " + firstLine(String.valueOf(e.getMessage()));
            }
            done = true;
        }
        return failure;
    }

    /** Which cuBLAS was arranged, for the device description; null before a successful {@link #ensureLoaded()}. */
    static synchronized String source() {
        return source;
    }

    private static String load() {
        List<Path> explicit = explicitDirs();
        if (!explicit.isEmpty()) {
            return loadFrom(explicit, "cuBLAS unavailable: " + PATH_PROPERTY + " / " + PATH_ENV + " = " + explicit
                    + " holds neither " + LIB12 + " nor " + LIB13);
        }
        if (linkerFinds(LIB12)) {
            source = "system " + LIB12;
            return null;
        }
        return loadFrom(searchDirs(), "cuBLAS unavailable: neither " + LIB12 + " nor " + LIB13 + " found; set -D"
                + PATH_PROPERTY + "=/dir/containing/" + LIB13);
    }

    /**
     * Loads from the first folder holding libcublas.so.12, else from the first holding libcublas.so.13 (with the shim).
     *
     * @return null on success, a reason when loading failed, {@code notFound} when no folder holds either
     */
    private static String loadFrom(List<Path> dirs, String notFound) {
        for (Path d : dirs) {
            if (Files.isRegularFile(d.resolve(LIB12))) {
                return outcome(loadPair(d, LT12, LIB12), d.resolve(LIB12).toString());
            }
        }
        for (Path d : dirs) {
            if (Files.isRegularFile(d.resolve(LIB13))) {
                String r = loadPair(d, LT13, LIB13);
                if (r == null) {
                    r = loadShim();
                }
                return outcome(r, d.resolve(LIB13) + " via the " + LIB12 + " shim");
            }
        }
        return notFound;
    }

    private static String outcome(String reason, String what) {
        if (reason == null) {
            source = what;
        }
        return reason;
    }

    private static String loadPair(Path dir, String lt, String lib) {
        try {
            Path ltPath = dir.resolve(lt);
            if (Files.isRegularFile(ltPath)) {
                System.load(ltPath.toAbsolutePath().toString());
            }
            System.load(dir.resolve(lib).toAbsolutePath().toString());
            return null;
        } catch (UnsatisfiedLinkError e) {
            return "cuBLAS unavailable: loading " + dir.resolve(lib) + " failed: " + firstLine(e.getMessage());
        }
    }

    private static String loadShim() {
        String bindNow = System.getenv("LD_BIND_NOW");
        if (bindNow != null && !bindNow.isEmpty()) {
            // the shim defines only the functions backprop4j calls; immediate binding would demand all of cuBLAS
            return "cuBLAS unavailable: the " + LIB12 + " shim needs lazy binding, but LD_BIND_NOW is set; unset it, "
                    + "or install CUDA 12's " + LIB12;
        }
        Path file;
        try (InputStream in = CublasLoader.class.getResourceAsStream(SHIM_RESOURCE)) {
            if (in == null) {
                return "cuBLAS unavailable: only " + LIB13 + " was found and this build lacks the " + LIB12
                        + " shim (built only where gcc exists); rebuild with gcc, or install CUDA 12's " + LIB12;
            }
            Path dir = Files.createTempDirectory("backprop4j-cublas");
            file = dir.resolve(LIB12);
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
        } catch (IOException e) {
            return "cuBLAS unavailable: cannot extract the " + LIB12 + " shim to java.io.tmpdir="
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage();
        }
        try {
            System.load(file.toString());
            return null;
        } catch (UnsatisfiedLinkError e) {
            String m = firstLine(e.getMessage());
            if (m.contains("failed to map segment") || m.contains("Operation not permitted")) {
                return "cuBLAS unavailable: the shim cannot be loaded from java.io.tmpdir=" + System.getProperty(
                        "java.io.tmpdir") + " (mounted noexec?); start Java with -Djava.io.tmpdir=<a folder that "
                        + "allows executables>";
            }
            return "cuBLAS unavailable: loading the " + LIB12 + " shim failed: " + m;
        }
    }

    // ---- where to look ----------------------------------------------------------------------------

    private static List<Path> explicitDirs() {
        String v = System.getProperty(PATH_PROPERTY);
        if (v == null || v.isBlank()) {
            v = System.getenv(PATH_ENV);
        }
        List<Path> dirs = new ArrayList<>();
        if (v != null && !v.isBlank()) {
            for (String part : v.split(":")) {
                if (!part.isBlank()) {
                    Path p = Path.of(part.trim());
                    dirs.add(Files.isRegularFile(p) && p.getParent() != null ? p.getParent() : p);
                }
            }
        }
        return dirs;
    }

    private static List<String> ldLibraryPath() {
        List<String> dirs = new ArrayList<>();
        String v = System.getenv("LD_LIBRARY_PATH");
        if (v != null) {
            for (String part : v.split(":")) {
                if (!part.isBlank()) {
                    dirs.add(part);
                }
            }
        }
        return dirs;
    }

    /** Whether dlopen would find {@code name} without help: LD_LIBRARY_PATH, the ld.so cache, the default folders. */
    static boolean linkerFinds(String name) {
        List<String> dirs = new ArrayList<>(ldLibraryPath());
        dirs.addAll(DEFAULT_LINKER_DIRS);
        for (String d : dirs) {
            if (Files.isRegularFile(Path.of(d, name))) {
                return true;
            }
        }
        return ldCacheLists(name);
    }

    /** The ld.so cache stores each library's file name and full path as NUL-terminated strings. */
    private static boolean ldCacheLists(String name) {
        Path cache = Path.of("/etc/ld.so.cache");
        if (!Files.isRegularFile(cache)) {
            return false;
        }
        try {
            String text = new String(Files.readAllBytes(cache), StandardCharsets.ISO_8859_1);
            String key = "/" + name + "\0";
            for (int at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + 1)) {
                int start = text.lastIndexOf('\0', at) + 1;
                if (Files.isRegularFile(Path.of(text.substring(start, at + key.length() - 1)))) {
                    return true;
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    /** LD_LIBRARY_PATH, CUDA toolkits (newest first), system folders, then Python wheels' nvidia/(name)/lib. */
    static List<Path> searchDirs() {
        return searchDirs(Path.of("/"), Path.of(System.getProperty("user.home")), Path.of("").toAbsolutePath(),
                System.getenv());
    }

    /** {@link #searchDirs()} with the file system root, home, working folder and environment given (for tests). */
    static List<Path> searchDirs(Path root, Path home, Path cwd, Map<String, String> env) {
        Set<Path> dirs = new LinkedHashSet<>();
        String ld = env.get("LD_LIBRARY_PATH");
        for (String d : ld == null ? new String[0] : ld.split(":")) {
            if (!d.isBlank()) {
                dirs.add(Path.of(d));
            }
        }
        Path local = root.resolve("usr/local");
        List<Path> toolkits = new ArrayList<>(list(local, "cuda*"));
        toolkits.sort(Comparator.comparing(Path::toString).reversed());
        toolkits.add(0, local.resolve("cuda"));
        for (Path t : toolkits) {
            dirs.add(t.resolve("lib64"));
            dirs.add(t.resolve("targets/x86_64-linux/lib"));
        }
        for (String d : DEFAULT_LINKER_DIRS) {
            dirs.add(root.resolve(d.substring(1)));
        }
        for (Path site : sitePackages(root, home, cwd, env)) {
            dirs.addAll(list(site.resolve("nvidia"), "*").stream().map(p -> p.resolve("lib")).toList());
        }
        String conda = env.get("CONDA_PREFIX");
        if (conda != null) {
            dirs.add(Path.of(conda, "lib"));
        }
        dirs.removeIf(p -> !Files.isDirectory(p));
        return new ArrayList<>(dirs);
    }

    /**
     * Python environments that may hold PyTorch's wheels: the system's, {@code ~/.local}, conda, the active
     * virtual environment, and inactive ones where people put them: {@code /opt/<name>} and its {@code .venv},
     * {@code venv} or {@code env}, {@code ~/.venv}, {@code ~/venv}, {@code ~/.virtualenvs/*}, {@code ~/.pyenv/versions/*},
     * and {@code .venv} or {@code venv} in the working folder; then the python3 on the PATH.
     */
    private static List<Path> sitePackages(Path root, Path home, Path cwd, Map<String, String> env) {
        List<Path> prefixes = new ArrayList<>();
        for (String p : new String[] {"usr", "usr/local", "opt/conda"}) {
            prefixes.add(root.resolve(p));
        }
        prefixes.add(home.resolve(".local"));
        for (Path opt : list(root.resolve("opt"), "*")) {
            prefixes.add(opt);
            for (String venv : new String[] {".venv", "venv", "env"}) {
                prefixes.add(opt.resolve(venv));
            }
        }
        prefixes.add(home.resolve(".venv"));
        prefixes.add(home.resolve("venv"));
        prefixes.addAll(list(home.resolve(".virtualenvs"), "*"));
        prefixes.addAll(list(home.resolve(".pyenv/versions"), "*"));
        prefixes.add(cwd.resolve(".venv"));
        prefixes.add(cwd.resolve("venv"));
        for (String var : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            String v = env.get(var);
            if (v != null) {
                prefixes.add(Path.of(v));
            }
        }
        List<Path> sites = new ArrayList<>();
        for (Path prefix : prefixes) {
            for (String lib : new String[] {"lib", "lib64"}) {
                for (Path py : list(prefix.resolve(lib), "python3*")) {
                    sites.add(py.resolve("site-packages"));
                    sites.add(py.resolve("dist-packages"));
                }
            }
        }
        if (root.equals(Path.of("/"))) {
            sites.addAll(interpreterSitePackages());
        }
        return sites;
    }

    /** The site-packages folders of the python3 on the PATH (pyenv, uv, un-activated venvs), asked with a timeout. */
    private static List<Path> interpreterSitePackages() {
        List<Path> out = new ArrayList<>();
        try {
            Process p = new ProcessBuilder("python3", "-c",
                    "import site;print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))")
                    .redirectErrorStream(true).start();
            if (!p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return out;
            }
            for (String line : new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
                    .split("\n")) {
                if (line.startsWith("/")) {
                    out.add(Path.of(line.trim()));
                }
            }
        } catch (IOException | RuntimeException e) {
            // no python3: nothing more to search
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out;
    }

    private static List<Path> list(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
            for (Path p : s) {
                if (Files.isDirectory(p)) {
                    out.add(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable folder is simply not searched
        }
        out.sort(Comparator.comparing(Path::toString));
        return out;
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).trim();
    }
}
