package dev.backprop4j.cli;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import dev.backprop4j.train.TrainingCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resumable training: a run stopped after an epoch (or killed outright) and resumed with --resume ends with the same
 * parameters, bit for bit on the CPU, as a run never stopped; a resume that would not continue the same run is
 * refused naming the option; the library's TrainingCheckpoint restores dropout's random positions too.
 */
class ResumeTest {
    @TempDir
    Path dir;

    private static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--device", "cpu", "--limit", "1500", "--layers", "32",
                "--optimizer", "adam"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void aRunStoppedAfterAnEpochAndResumedEndsBitForBitWhereAnUnstoppedRunEnds() throws Exception {
        Path whole = dir.resolve("whole.safetensors");
        Path part = dir.resolve("part.safetensors");
        Path resumed = dir.resolve("resumed.safetensors");
        CliRun a = CliRun.of(args("--schedule", "constant", "--epochs", "3", "--save", whole.toString()));
        assertEquals(0, a.code(), a.err());
        CliRun b = CliRun.of(args("--schedule", "constant", "--epochs", "1", "--checkpoint", part.toString()));
        assertEquals(0, b.code(), b.err());
        CliRun c = CliRun.of(args("--schedule", "constant", "--epochs", "3", "--resume", part.toString(), "--checkpoint",
                part.toString(), "--save", resumed.toString()));
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("resumed from " + part + " after epoch 1"), c.out());
        assertTrue(c.out().contains("epoch  2/3") && !c.out().contains("epoch  1/3"), c.out());
        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(resumed), "parameters differ");
        assertEquals(lastLine(a.out(), "epoch  3/3"), lastLine(c.out(), "epoch  3/3"));
    }

    /** A batch-norm residual MLP resumes bit for bit too: its running statistics are in the checkpoint. */
    @Test
    void aBatchNormRunResumesBitForBit() throws Exception {
        Path whole = dir.resolve("bn-whole.safetensors");
        Path part = dir.resolve("bn-part.safetensors");
        Path resumed = dir.resolve("bn-resumed.safetensors");
        String[] model = {"--model", "resmlp", "--width", "16", "--blocks", "2", "--norm", "batch"};
        List<String> base = new ArrayList<>(List.of("train", "--device", "cpu", "--limit", "1000", "--schedule",
                "constant"));
        base.addAll(List.of(model));
        List<String> a = new ArrayList<>(base);
        a.addAll(List.of("--epochs", "2", "--save", whole.toString()));
        assertEquals(0, CliRun.of(a.toArray(new String[0])).code());
        List<String> b = new ArrayList<>(base);
        b.addAll(List.of("--epochs", "1", "--checkpoint", part.toString()));
        assertEquals(0, CliRun.of(b.toArray(new String[0])).code());
        List<String> c = new ArrayList<>(base);
        c.addAll(List.of("--epochs", "2", "--resume", part.toString(), "--save", resumed.toString()));
        CliRun r = CliRun.of(c.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(resumed), "parameters or statistics differ");
    }

    /** The real case: the process is killed (SIGKILL) after its first checkpoint, mid-run, cosine schedule. */
    @Test
    void aKilledRunResumesFromItsLastCheckpointAndEndsWhereAnUnkilledRunEnds() throws Exception {
        Path whole = dir.resolve("whole.safetensors");
        Path ckpt = dir.resolve("run.safetensors");
        Path resumed = dir.resolve("resumed.safetensors");
        CliRun a = CliRun.of(args("--epochs", "6", "--save", whole.toString()));
        assertEquals(0, a.code(), a.err());
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args("--epochs", "6", "--checkpoint", ckpt.toString())));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(ckpt) && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        p.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, no chance to finish a write
        assertTrue(Files.exists(ckpt), Files.readString(dir.resolve("log")));
        int done = Integer.parseInt(dev.backprop4j.io.Safetensors.header(ckpt).metadata()
                .get("backprop4j.resume.epochs_done"));
        if (done == 6) {
            return; // the machine finished before the kill landed: nothing to resume
        }
        CliRun c = CliRun.of(args("--epochs", "6", "--resume", ckpt.toString(), "--save", resumed.toString()));
        assertEquals(0, c.code(), c.err());
        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(resumed), "parameters differ after epoch "
                + done);
    }

    @Test
    void aResumeThatWouldNotContinueTheRunIsRefusedNamingTheOption() {
        Path part = dir.resolve("part.safetensors");
        assertEquals(0, CliRun.of(args("--epochs", "1", "--checkpoint", part.toString())).code());
        CliRun batch = CliRun.of(args("--epochs", "2", "--batch", "32", "--resume", part.toString()));
        assertEquals(2, batch.code());
        assertTrue(batch.err().contains("was written by a run with --batch 64, and this one has 32"), batch.err());
        CliRun over = CliRun.of(args("--epochs", "1", "--resume", part.toString()));
        assertEquals(2, over.code());
        assertTrue(over.err().contains("has 1 epochs done already"), over.err());
    }

    /** The library: momentum, step counts, the schedule position and dropout's generator come back. */
    @Test
    void aTrainingCheckpointRestoresOptimizerStateAndDropoutMasks() throws Exception {
        Path file = dir.resolve("lib.safetensors");
        Tensor x = Tensor.randn(new Generator(5), Shape.of(16, 6), DType.FLOAT32, dev.backprop4j.core.Device.CPU);
        int[] labels = new int[16];
        for (int i = 0; i < 16; i++) {
            labels[i] = i % 3;
        }
        Tensor y = Tensor.of(labels, 16);
        Sequential a = Mlp.of(6, 8, 3).dropout(0.3).seed(2).build();
        Sgd sa = new Sgd(a.parameters(), 0.1).momentum(0.9);
        Trainer ta = new Trainer(a, sa);
        for (int i = 0; i < 3; i++) {
            ta.step(x, y);
        }
        TrainingCheckpoint.save(file, ta, 1, Map.of());
        Sequential b = Mlp.of(6, 8, 3).dropout(0.3).seed(99).build();
        Sgd sb = new Sgd(b.parameters(), 0.1).momentum(0.9);
        Trainer tb = new Trainer(b, sb);
        assertEquals(1, TrainingCheckpoint.restore(file, tb));
        assertEquals(3, tb.stepsDone());
        for (int i = 0; i < 3; i++) {
            assertEquals(ta.step(x, y).loss(), tb.step(x, y).loss(), "step " + i);
        }
        for (String name : a.namedParameters().keySet()) {
            assertArrayEquals(a.namedParameters().get(name).toFloatArray(), b.namedParameters().get(name).toFloatArray(),
                    name);
        }
    }

    private static String lastLine(String out, String prefix) {
        String found = "";
        for (String l : out.split("\n")) {
            if (l.startsWith(prefix) && l.contains("train loss")) {
                found = l.substring(0, l.lastIndexOf('|'));
            }
        }
        return found;
    }
}
