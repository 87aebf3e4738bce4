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
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
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
}
