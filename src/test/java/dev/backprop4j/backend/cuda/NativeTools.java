package dev.backprop4j.backend.cuda;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/** The native tools the cuBLAS shim tests call: gcc (the shim built as the Maven profile builds it), nm, objdump. */
final class NativeTools {
    static final Path SHIM_SOURCE = Path.of("src/main/native/cublas12-shim");

    private NativeTools() {
    }

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
