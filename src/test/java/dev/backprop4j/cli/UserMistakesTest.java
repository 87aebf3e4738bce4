package dev.backprop4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a new user gets wrong, and what the command line says: a device it does not know (named as --device, a GPU
 * called "gpu"), doctor on the CPU, a --checkpoint file given to evaluate, a model scored on data of another width,
 * a CSV of one class, a longer resumed cosine run.
 */
class UserMistakesTest {
    @TempDir
    Path dir;

    @Test
    void anUnknownDeviceIsAUsageErrorNamingTheOption() {
        CliRun cpu1 = CliRun.of("train", "--device", "cpu:1", "--epochs", "1");
        assertEquals(2, cpu1.code(), cpu1.err());
        assertTrue(cpu1.err().startsWith("error: --device: unknown device 'cpu:1' (expected cpu, cuda, cuda:N or auto)"),
                cpu1.err());
        CliRun gpu = CliRun.of("evaluate", "--model", "x.safetensors", "--device", "gpu");
        assertEquals(2, gpu.code(), gpu.err());
        assertTrue(gpu.err().contains("a GPU is cuda"), gpu.err());
    }

    @Test
    void doctorOnTheCpuPasses() {
        CliRun r = CliRun.of("doctor", "--device", "cpu");
        assertEquals(0, r.code(), r.out());
        assertFalse(r.out().contains("FAIL"), r.out());
    }

    private Path csv(String name, String rows) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, rows);
        return f;
    }

    private static String twoClasses() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100; i++) {
            sb.append(i % 7).append(',').append(i % 3).append(',').append(i % 2).append('\n');
        }
        return sb.toString();
    }

    @Test
    void aCheckpointFileIsAModelFileForEvaluate() throws Exception {
        Path data = csv("two.csv", twoClasses());
        Path ckpt = dir.resolve("run.ckpt.safetensors");
        CliRun r = CliRun.of("train", "--csv", data.toString(), "--layers", "8", "--epochs", "2", "--device", "cpu",
                "--checkpoint", ckpt.toString());
        assertEquals(0, r.code(), r.err());
        CliRun eval = CliRun.of("evaluate", "--model", ckpt.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("test loss"), eval.out());
    }

    @Test
    void aModelScoredOnDataOfAnotherWidthSaysBothWidths() throws Exception {
        Path data = csv("two.csv", twoClasses());
        Path model = dir.resolve("csv-model.safetensors");
        assertEquals(0, CliRun.of("train", "--csv", data.toString(), "--layers", "8", "--epochs", "1", "--device",
                "cpu", "--save", model.toString()).code());
        CliRun r = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu", "--data",
                dir.resolve("nowhere").toString());
        assertEquals(1, r.code());
        CliRun mnist = CliRun.of("predict", "--model", model.toString(), "--device", "cpu", "--image", "0", "--csv",
                csv("wide.csv", "1,2,3,4,0\n5,6,7,8,1\n1,2,3,4,1\n5,6,7,8,0\n1,1,1,1,1\n").toString());
        assertEquals(1, mnist.code(), mnist.err());
        assertTrue(mnist.err().contains("takes 2 features a row (its first layer)") && mnist.err().contains("has 4"),
                mnist.err());
    }

    @Test
    void aCsvOfOneClassTrainsWithAWarning() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            sb.append(i).append(',').append(-i).append(",3\n");
        }
        Path data = csv("one.csv", sb.toString());
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, CliRun.of("train", "--csv", data.toString(), "--layers", "4", "--epochs", "1", "--device",
                    "cpu").code());
        } finally {
            System.setErr(saved);
        }
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("warning: every training row of " + data
                + " has label 3"), err.toString(StandardCharsets.UTF_8));
    }
}
