package dev.backprop4j.io;

import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The safetensors reader is as strict as the reference, its arithmetic cannot overflow, files of any size stream
 * through in chunks, and writes keep links, device files and permissions as they should be.
 */
class SafetensorsStrictTest {
    @TempDir
    Path dir;

    @AfterEach
    void restoreChunk() {
        Safetensors.chunkBytes = 64 << 20;
    }

    private Path file(byte[] header, int dataBytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header);
        Path f = dir.resolve("crafted.safetensors");
        Files.write(f, buf.array());
        return f;
    }

    private Path file(String json, int dataBytes) throws IOException {
        return file(json.getBytes(StandardCharsets.UTF_8), dataBytes);
    }

    private void rejected(Path f, String... parts) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), e.getMessage());
        }
        for (String internal : new String[]{"NullPointer", "ClassCast", "Exception", "https://", "gson"}) {
            assertFalse(e.getMessage().contains(internal), "shows Java internals: " + e.getMessage());
        }
    }

    @Test
    void malformedHeadersAreRejectedAsTheReferenceDoes() throws IOException {
        byte[] badUtf8 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"x\":\"\u00e9\"}}"
                .getBytes(StandardCharsets.ISO_8859_1);
        rejected(file(badUtf8, 4), "not valid UTF-8");
        rejected(file("{a:{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "not valid JSON");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4), "3 data_offsets, not 2");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4), "'a'", "shape entry");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4), "shape entry 1.0");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "shape entry -1");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4), "not valid JSON");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "names 'a' twice");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "lacks data_offsets");
        rejected(file("[1,2]", 0), "not a JSON object");
    }

    @Test
    void sizesAndOffsetsCannotOverflow() throws IOException {
        // an end offset of 2^64 + 4 used to wrap to 4 and load
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}}", 4),
                "data_offsets entry 18446744073709551620");
        // 2^62 + 1 elements of 4 bytes used to pass the size check by overflow
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905],\"data_offsets\":[0,4]}}", 4),
                "'a'");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,4],\"data_offsets\":[0,4]}}", 4), "'a'");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "starts at data byte 4");
        rejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), "trailing bytes");
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-8).putLong(0);
        Path f = dir.resolve("neg.safetensors");
        Files.write(f, huge.array());
        rejected(f, "header size 18446744073709551608");
    }

    /** Chunks of 64 bytes: every tensor crosses chunk boundaries, as the tensors of a file over 2 GiB do. */
    @Test
    void tensorsStreamThroughInChunks() throws IOException {
        Safetensors.chunkBytes = 64;
        Sequential a = Mlp.of(37, 29, 11).seed(1).build();
        Sequential b = Mlp.of(37, 29, 11).seed(2).build();
        Path f = dir.resolve("m.safetensors");
        Checkpoint.save(f, a, Map.of("k", "v"));
        assertEquals("v", Checkpoint.load(f, b).get("k"));
        for (String name : a.namedParameters().keySet()) {
            assertArrayEquals(a.namedParameters().get(name).toFloatArray(), b.namedParameters().get(name).toFloatArray());
        }
    }

    /** A sparse file of 2.5 GB whose second tensor lies past 2^31 bytes: found and read by 64-bit positions. */
    @Test
    void aFileOver2GiBIsReadByPosition() throws IOException {
        long big = 2_500_000_000L;
        String json = "{\"big\":{\"dtype\":\"I32\",\"shape\":[" + big / 4 + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 16) + "]}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("sparse.safetensors");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, h.length), 0);
            ch.write(ByteBuffer.wrap(h), 8);
            ch.write(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0, 1.5).putDouble(8, -3),
                    8 + h.length + big);
        }
        SafetensorsHeader header = Safetensors.header(f);
        assertEquals(big, header.tensors().get("tail").begin());
        try (Tensor tail = Safetensors.readTensor(f, header, "tail")) {
            assertArrayEquals(new double[]{1.5, -3}, tail.toDoubleArray());
        }
    }

    @Test
    void savingWritesThroughALinkRefusesDeviceFilesAndKeepsTheUsualPermissions() throws IOException {
        Sequential m = Mlp.of(3, 2).seed(1).build();
        Path real = dir.resolve("real.safetensors");
        Checkpoint.save(real, m, Map.of());
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(real)),
                "created with the umask's permissions (0644 under umask 022), not 0600");
        Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rw-rw----"));
        Path link = dir.resolve("link.safetensors");
        Files.createSymbolicLink(link, real.getFileName());
        Checkpoint.save(link, m, Map.of("via", "link"));
        assertTrue(Files.isSymbolicLink(link), "the link stays a link");
        assertEquals("link", Safetensors.header(real).metadata().get("via"), "the target got the new contents");
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(real)),
                "the file keeps its permissions");
        if (Files.exists(Path.of("/dev/full"))) {
            IOException e = assertThrows(IOException.class, () -> Checkpoint.save(Path.of("/dev/full"), m, Map.of()));
            assertTrue(e.getMessage().contains("/dev/full: a special file"), e.getMessage());
            assertTrue(Files.isRegularFile(Path.of("/dev/full")) == false, "the device node is still a device");
        }
    }

    @Test
    void temporaryFilesOfKilledWritesAreSwept() throws IOException {
        Path stale = dir.resolve(".m.safetensors.999999999.abc.tmp"); // a writer whose process is gone
        Files.writeString(stale, "half a checkpoint");
        Path mine = dir.resolve(".m.safetensors." + ProcessHandle.current().pid() + ".def.tmp"); // a live writer
        Files.writeString(mine, "being written");
        Checkpoint.save(dir.resolve("m.safetensors"), Mlp.of(3, 2).build(), Map.of());
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(mine));
    }
}
