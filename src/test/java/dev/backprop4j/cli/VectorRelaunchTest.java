package dev.backprop4j.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A JVM started without the Vector API module restarts itself with it, silently, and keeps the exit code. */
class VectorRelaunchTest {

    private static String[] run(String... args) throws Exception {
        return run(Path.of(System.getProperty("java.home")), args);
    }

    private static String[] run(Path javaHome, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(javaHome.resolve("bin").resolve("java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
        return new String[]{String.valueOf(p.exitValue()),
                new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8)};
    }

    @Test
    void relaunchesWithTheModuleAndKeepsOutputAndExitCode() throws Exception {
        String[] ok = run("--version");
        assertEquals("0", ok[0], ok[2]);
        assertTrue(ok[1].contains("backprop4j 0.1.0"), ok[1]);
        assertFalse(ok[2].contains("incubator"), "the JVM's incubator notice is dropped: " + ok[2]);
        String[] bad = run("train", "--no-such-option");
        assertEquals("2", bad[0]);
        assertTrue(bad[2].startsWith("error: Unknown option"), bad[2]);
    }

    /** A Java of version 22 or later installed beside this one (Temurin's, on the project's machines), or null. */
    private static Path newerJava() throws java.io.IOException {
        Path jvms = Path.of("/usr/lib/jvm");
        if (!java.nio.file.Files.isDirectory(jvms)) {
            return null;
        }
        try (var homes = java.nio.file.Files.list(jvms)) {
            return homes.filter(h -> java.nio.file.Files.isExecutable(h.resolve("bin/java")))
                    .filter(h -> h.getFileName().toString().matches(".*?-(2[2-9]|[3-9][0-9])(\\D.*|$)"))
                    .findFirst().orElse(null);
        }
    }

    /**
     * Java 22 and later warn about restricted methods (JCuda's System.loadLibrary) unless native access is enabled:
     * the relaunched JVM enables it, so a training run there prints no warning (the jar's manifest does the same for
     * java -jar).
     */
    @Test
    void noRestrictedMethodWarningsOnANewerJava() throws Exception {
        Path java = newerJava();
        org.junit.jupiter.api.Assumptions.assumeTrue(java != null, "no Java 22 or later under /usr/lib/jvm");
        String[] r = run(java, "train", "--epochs", "1", "--limit", "64", "--device", "auto");
        assertEquals("0", r[0], r[2]);
        assertFalse(r[2].contains("WARNING"), java + ":\n" + r[2]);
    }
}
