package dev.backprop4j.io;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header size N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}},
 * padded with spaces to a multiple of 8), then the raw little-endian tensor data, offsets relative to its start.
 * Files written here open with Python's {@code safetensors} and PyTorch, and theirs open here (F32, F64, I32).
 * Writes are atomic: a temporary file in the same folder, forced to disk, then renamed over the target,
 * so a failed write leaves the previous file intact.
 */
public final class Safetensors {
    private static final long MAX_HEADER = 100L << 20;

    /** What a file holds: tensors by name in file order, and the string metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
    }

    private Safetensors() {
    }

    static String code(DType d) {
        return switch (d) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case INT32 -> "I32";
        };
    }

    static DType dtype(String code, Path file, String name) {
        return switch (code) {
            case "F32" -> DType.FLOAT32;
            case "F64" -> DType.FLOAT64;
            case "I32" -> DType.INT32;
            default -> throw new CheckpointException(file + ": tensor '" + name + "' has dtype " + code
                    + ", which backprop4j does not read (F32, F64, I32)");
        };
    }

    /** Writes the tensors (any device; read back to the host) and metadata atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        List<byte[]> blobs = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            byte[] data = bytes(t);
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", code(t.dtype()));
            com.google.gson.JsonArray shape = new com.google.gson.JsonArray();
            for (int d : t.shape().dims()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            com.google.gson.JsonArray offsets = new com.google.gson.JsonArray();
            offsets.add(offset);
            offsets.add(offset + data.length);
            entry.add("data_offsets", offsets);
            header.add(e.getKey(), entry);
            blobs.add(data);
            offset += data.length;
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                out.write(prefix.array());
                for (byte[] b : blobs) {
                    out.write(b);
                }
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static byte[] bytes(Tensor t) {
        ByteBuffer b = ByteBuffer.allocate((int) (t.size() * t.dtype().bytes())).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case FLOAT32 -> b.asFloatBuffer().put(t.toFloatArray());
            case FLOAT64 -> b.asDoubleBuffer().put(t.toDoubleArray());
            case INT32 -> b.asIntBuffer().put(t.toIntArray());
        }
        return b.array();
    }

    /** Reads every tensor (onto the CPU) and the metadata, checking the layout against the file size. */
    public static Contents read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        Header h = parseHeader(all, file);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Entry> e : h.entries.entrySet()) {
            Entry en = e.getValue();
            ByteBuffer data = ByteBuffer.wrap(all, (int) (h.dataStart + en.begin), (int) (en.end - en.begin))
                    .slice().order(ByteOrder.LITTLE_ENDIAN);
            int[] dims = en.shape.dims();
            Tensor t = switch (en.dtype) {
                case FLOAT32 -> {
                    float[] v = new float[en.shape.intSize()];
                    data.asFloatBuffer().get(v);
                    yield Tensor.of(v, dims);
                }
                case FLOAT64 -> {
                    double[] v = new double[en.shape.intSize()];
                    data.asDoubleBuffer().get(v);
                    yield Tensor.of(v, dims);
                }
                case INT32 -> {
                    int[] v = new int[en.shape.intSize()];
                    data.asIntBuffer().get(v);
                    yield Tensor.of(v, dims);
                }
            };
            tensors.put(e.getKey(), t.name(e.getKey()));
        }
        return new Contents(tensors, h.metadata);
    }

    /** The metadata and tensor layout without the data. */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        return parseHeader(Files.readAllBytes(file), file).metadata;
    }

    private record Entry(DType dtype, Shape shape, long begin, long end) {
    }

    private record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
    }

    private static Header parseHeader(byte[] all, Path file) {
        if (all.length < 8) {
            throw new CheckpointException(file + ": " + all.length + " bytes is too short for a safetensors file");
        }
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n <= 0 || n > MAX_HEADER || 8 + n > all.length) {
            throw new CheckpointException(file + ": header size " + n + " does not fit the file of " + all.length
                    + " bytes (truncated or not safetensors)");
        }
        JsonObject json;
        try {
            JsonElement parsed = JsonParser.parseString(new String(all, 8, (int) n, StandardCharsets.UTF_8));
            json = parsed.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(file + ": header is not a JSON object (" + e.getMessage() + ")");
        }
        long dataStart = 8 + n;
        long dataLen = all.length - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        long covered = 0;
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
            String name = e.getKey();
            try {
                if (name.equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        if (!m.getValue().isJsonPrimitive() || !m.getValue().getAsJsonPrimitive().isString()) {
                            throw new CheckpointException(file + ": metadata '" + m.getKey() + "' is not a string");
                        }
                        meta.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                JsonObject o = e.getValue().getAsJsonObject();
                DType dtype = dtype(o.get("dtype").getAsString(), file, name);
                var shapeArr = o.getAsJsonArray("shape");
                int[] dims = new int[shapeArr.size()];
                for (int i = 0; i < dims.length; i++) {
                    long d = shapeArr.get(i).getAsLong();
                    if (d != shapeArr.get(i).getAsDouble() || d < 0 || d > Integer.MAX_VALUE) {
                        throw new CheckpointException(file + ": tensor '" + name + "' has shape entry "
                                + shapeArr.get(i) + ", not a size");
                    }
                    dims[i] = (int) d;
                }
                Shape shape = Shape.of(dims);
                var off = o.getAsJsonArray("data_offsets");
                long begin = off.get(0).getAsLong();
                long end = off.get(1).getAsLong();
                if (end - begin != shape.size() * dtype.bytes()) {
                    throw new CheckpointException(file + ": tensor '" + name + "' " + shape + " " + dtype + " needs "
                            + shape.size() * dtype.bytes() + " bytes but its offsets span " + (end - begin));
                }
                if (begin < 0 || end > dataLen) {
                    throw new CheckpointException(file + ": tensor '" + name + "' lies at bytes [" + begin + ", " + end
                            + ") but the file has only " + dataLen + " data bytes (truncated?)");
                }
                covered += end - begin;
                entries.put(name, new Entry(dtype, shape, begin, end));
            } catch (RuntimeException ex) {
                if (ex instanceof CheckpointException c) {
                    throw c;
                }
                throw new CheckpointException(file + ": malformed header entry for '" + name + "' (" + ex + ")");
            }
        }
        // the tensors must tile the data section: sorted by offset, each starts where the previous ends
        long expect = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet().stream()
                .sorted(java.util.Comparator.comparingLong(x -> x.getValue().begin)).toList()) {
            if (e.getValue().begin != expect) {
                throw new CheckpointException(file + ": tensor '" + e.getKey() + "' starts at byte " + e.getValue().begin
                        + ", expected " + expect + " (overlapping or with gaps: corrupt header)");
            }
            expect = e.getValue().end;
        }
        if (covered != dataLen) {
            throw new CheckpointException(file + ": tensors cover " + covered + " bytes of " + dataLen
                    + " data bytes (truncated or corrupt)");
        }
        return new Header(entries, meta, dataStart);
    }
}
