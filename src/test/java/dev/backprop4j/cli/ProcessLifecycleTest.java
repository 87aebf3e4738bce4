package dev.backprop4j.cli;

import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.Mlp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code java -jar} restarts itself with the Vector API; the two JVMs must end together, however the first is ended
 * (a supervisor or an IDE signals one PID), and the child must not train on and overwrite the checkpoint.
 */
class ProcessLifecycleTest {
    @TempDir
    Path dir;

    /**
     * Starts train without the Vector API module (so it relaunches), waits for training to start; the child too.
     * Standard error goes to {@code err}.
     */
    private Process startTraining(Path save, Path err) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "train", "--epochs", "200",
                "--device", "cpu", "--save", save.toString()));
        Process parent = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        assertTrue(first != null && first.startsWith("training "), "training started: " + first);
        Thread drain = new Thread(() -> {
            try {
                while (out.readLine() != null) {
                    // keep the pipe from filling
                }
            } catch (Exception ignored) {
                // the process ended
            }
        });
        drain.setDaemon(true);
        drain.start();
        List<ProcessHandle> children = parent.toHandle().children().toList();
        assertEquals(1, children.size(), "the relaunched JVM");
        return parent;
    }

    private void endsTheChildAndKeepsTheCheckpoint(boolean kill) throws Exception {
        Path save = dir.resolve("model.safetensors");
        Checkpoint.save(save, Mlp.of(3, 2).build(), Map.of("kept", "yes"));
        byte[] before = Files.readAllBytes(save);
        Path err = dir.resolve("stderr.txt");
        Process parent = startTraining(save, err);
        ProcessHandle child = parent.toHandle().children().findFirst().orElseThrow();
        if (kill) {
            parent.destroyForcibly(); // SIGKILL: no shutdown hook runs in the parent
        } else {
            parent.destroy(); // SIGTERM
        }
        assertTrue(parent.waitFor(30, TimeUnit.SECONDS), "the parent ended");
        child.onExit().get(15, TimeUnit.SECONDS);
        assertFalse(child.isAlive(), "the relaunched JVM ended with its parent");
        assertArrayEquals(before, Files.readAllBytes(save), "the checkpoint was not overwritten");
        String errors = Files.readString(err);
        assertFalse(errors.contains("Exception") || errors.contains("\tat "), "a stack trace on stopping:\n" + errors);
    }

    @Test
    void sigtermToTheLaunchingJvmStopsTheRelaunchedOne() throws Exception {
        endsTheChildAndKeepsTheCheckpoint(false);
    }

    @Test
    void sigkillOfTheLaunchingJvmStopsTheRelaunchedOne() throws Exception {
        endsTheChildAndKeepsTheCheckpoint(true);
    }

    /** A library user without the Vector API is told once that the slow matrix multiply is in use. */
    @Test
    void theScalarFallbackIsAnnouncedOnce() throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TwoMatmuls.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        assertTrue(err.contains("backprop4j: the Vector API (module jdk.incubator.vector) is not enabled"), err);
        assertEquals(1, err.lines().filter(l -> l.contains("Vector API")).count(), err);
    }

    /** Run without the Vector API module: two float32 matrix products. */
    public static final class TwoMatmuls {
        public static void main(String[] args) {
            dev.backprop4j.tensor.Tensor a = dev.backprop4j.tensor.Tensor.ones(8, 8);
            a.matmul(a);
            a.matmul(a);
        }
    }
}
