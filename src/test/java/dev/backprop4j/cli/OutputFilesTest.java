package dev.backprop4j.cli;

import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.io.RunLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What train writes, checked before training and guarded while it runs: --save, --plot and --checkpoint name three
 * files; --checkpoint's room is two copies (each replacement writes beside the old file); a write that fails names
 * its file and leaves the previous one; two runs cannot share one --checkpoint.
 */
class OutputFilesTest {
    @TempDir
    Path dir;

    @Test
    void theSamePathForTwoOutputsIsAUsageError() {
        Path same = dir.resolve("out.png");
        CliRun r = CliRun.of("train", "--epochs", "1", "--device", "cpu", "--save", same.toString(), "--plot",
                same.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--save and --plot name the same file"), r.err());
        assertTrue(Files.notExists(same));
    }

    @Test
    void aCheckpointNeedsRoomForTwoCopies() throws IOException {
        long free = Files.getFileStore(dir).getUsableSpace();
        AtomicFile.checkWritable(dir.resolve("a.safetensors"), free * 2 / 3, "--checkpoint"); // one copy fits
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AtomicFile.checkWritable(dir.resolve("a.safetensors"), free * 2 / 3, "--checkpoint", true));
        assertTrue(e.getMessage().contains("two copies") && e.getMessage().contains("a.safetensors"),
                e.getMessage());
    }

    @Test
    void aFailedWriteNamesTheFileAndKeepsThePreviousOne() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Files.writeString(f, "previous");
        IOException e = assertThrows(IOException.class, () -> AtomicFile.write(f, ch -> {
            throw new IOException("No space left on device");
        }));
        assertEquals("writing " + f + ": No space left on device (the previous file, if any, is intact)",
                e.getMessage());
        assertEquals("previous", Files.readString(f));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void twoRunsCannotShareOneCheckpoint() throws IOException {
        Path ckpt = dir.resolve("run.safetensors");
        try (RunLock held = RunLock.acquire(ckpt, "--checkpoint")) {
            CliRun r = CliRun.of("train", "--epochs", "1", "--limit", "64", "--device", "cpu", "--checkpoint",
                    ckpt.toString());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().contains("--checkpoint " + ckpt + " is in use by another run (process "
                    + ProcessHandle.current().pid()), r.err());
        }
        CliRun r = CliRun.of("train", "--epochs", "1", "--limit", "64", "--device", "cpu", "--checkpoint",
                ckpt.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(ckpt) && Files.notExists(dir.resolve("run.safetensors.lock")));
    }
}
