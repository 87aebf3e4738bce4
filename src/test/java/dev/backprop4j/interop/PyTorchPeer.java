package dev.backprop4j.interop;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PyTorch as a peer of the tests: {@code python3} with torch (and the safetensors package) where it is installed
 * ({@code python3 -m pip install torch safetensors}); never a requirement. Tests that use it skip, saying so, where
 * it is missing; they are for the machines where it is.
 */
final class PyTorchPeer {
    private static Boolean available;

    private PyTorchPeer() {
    }

    /** Whether python3 imports torch and safetensors (checked once). */
    static synchronized boolean available() {
        if (available == null) {
            try {
                Process p = new ProcessBuilder("python3", "-c", "import torch, safetensors.torch")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                available = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
            } catch (Exception e) {
                available = false;
            }
        }
        return available;
    }

    static final String SKIPPED = "PyTorch is not installed (python3 -m pip install torch safetensors): skipped";

    /** Runs {@code script} with {@code args} in python3 and returns its standard output; fails on a non-zero exit. */
    static String run(Path dir, String script, String... args) throws Exception {
        Path file = dir.resolve("peer.py");
        Files.writeString(file, script);
        List<String> cmd = new ArrayList<>(List.of("python3", file.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "python3 did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** Whitespace-separated numbers as doubles. */
    static double[] numbers(String text) {
        String[] parts = text.trim().split("\\s+");
        double[] v = new double[parts.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Double.parseDouble(parts[i]);
        }
        return v;
    }
}
