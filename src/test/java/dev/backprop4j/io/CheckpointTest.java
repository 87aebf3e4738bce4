package dev.backprop4j.io;

import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path dir;

    @Test
    void roundTripRestoresEveryParameter() throws IOException {
        Sequential a = Mlp.of(5, 4, 3).seed(1).build();
        Sequential b = Mlp.of(5, 4, 3).seed(2).build();
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, a, Map.of("note", "hello"));
        Map<String, String> meta = Checkpoint.load(f, b);
        assertEquals("hello", meta.get("note"));
        for (String name : a.namedParameters().keySet()) {
            assertArrayEquals(a.namedParameters().get(name).toFloatArray(), b.namedParameters().get(name).toFloatArray(), name);
            assertTrue(b.namedParameters().get(name).requiresGrad());
        }
        // layout: 8-byte little-endian size, JSON header padded to 8 bytes
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,5],\"data_offsets\":[0,80]}"), header);
    }

    /** A file in the safetensors layout written by another tool, built byte by byte (as Python's safetensors writes it). */
    @Test
    void readsAFileWrittenByAnotherTool() throws IOException {
        String json = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer buf = ByteBuffer.allocate(8 + padded + 32).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            buf.put((byte) ' ');
        }
        buf.putDouble(1.5).putDouble(-2.25);
        buf.putFloat(1).putFloat(2).putFloat(3).putFloat(4);
        Path f = dir.resolve("other.safetensors");
        Files.write(f, buf.array());
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals("pt", c.metadata().get("format"));
        assertArrayEquals(new double[]{1.5, -2.25}, c.tensors().get("b").toDoubleArray());
        assertArrayEquals(new float[]{1, 2, 3, 4}, c.tensors().get("a").toFloatArray());
        assertEquals(dev.backprop4j.core.Shape.of(2, 2), c.tensors().get("a").shape());
    }

    @Test
    void truncatedAndCorruptFilesFailClearly() throws IOException {
        Sequential a = Mlp.of(5, 4, 3).seed(1).build();
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, a, Map.of());
        byte[] bytes = Files.readAllBytes(f);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(bytes, bytes.length - 10));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(cut, a));
        assertTrue(e.getMessage().contains("cut.safetensors") && e.getMessage().contains("truncated"), e.getMessage());
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[]{1, 2, 3});
        assertThrows(CheckpointException.class, () -> Checkpoint.load(tiny, a));
        Path garbage = dir.resolve("garbage.safetensors");
        byte[] g = bytes.clone();
        g[8] = 'x';
        Files.write(garbage, g);
        CheckpointException ge = assertThrows(CheckpointException.class, () -> Checkpoint.load(garbage, a));
        assertTrue(ge.getMessage().contains("JSON"), ge.getMessage());
    }

    @Test
    void aCheckpointThatDoesNotFitTheModelIsRejectedAndChangesNothing() throws IOException {
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, Mlp.of(5, 4, 3).build(), Map.of());
        Sequential other = Mlp.of(5, 6, 3).seed(3).build();
        float[] before = other.namedParameters().get("0.weight").toFloatArray();
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.load(f, other));
        assertTrue(e.getMessage().contains("'0.weight' is [4, 5] float32 in the file but [6, 5] float32 in the model"),
                e.getMessage());
        assertArrayEquals(before, other.namedParameters().get("0.weight").toFloatArray());
        Sequential deeper = Mlp.of(5, 4, 4, 3).build();
        CheckpointException missing = assertThrows(CheckpointException.class, () -> Checkpoint.load(f, deeper));
        assertTrue(missing.getMessage().contains("missing [4.bias, 4.weight]"), missing.getMessage());
    }

    @Test
    void aFailedWriteLeavesThePreviousFileIntact() throws IOException {
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, Mlp.of(3, 2).seed(1).build(), Map.of());
        byte[] before = Files.readAllBytes(f);
        Tensor closed = Tensor.ones(2);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Safetensors.write(f, Map.of("x", closed), Map.of()));
        assertArrayEquals(before, Files.readAllBytes(f));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void overlappingTensorsAndNonStringMetadataAreRejected() throws IOException {
        for (String json : new String[]{
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                "{\"__metadata__\":{\"x\":{\"y\":1}},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"}) {
            byte[] h = json.getBytes(StandardCharsets.UTF_8);
            ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 16).order(ByteOrder.LITTLE_ENDIAN);
            buf.putLong(h.length).put(h);
            Path f = dir.resolve("bad.safetensors");
            Files.write(f, buf.array());
            CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.read(f));
            assertTrue(e.getMessage().contains("bad.safetensors"), e.getMessage());
        }
    }
}
