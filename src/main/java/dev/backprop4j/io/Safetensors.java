package dev.backprop4j.io;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.backprop4j.core.BFloat16;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Excerpt;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header size N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}},
 * padded with spaces to a multiple of 8), then the raw little-endian tensor data, offsets relative to its start.
 * Files written here open with Python's {@code safetensors} and PyTorch, and theirs open here (F32, F64, I32).
 *
 * <p>Files of any size: the header is read first ({@link #header}, checked as strictly as the reference, see
 * {@link SafetensorsHeader}), then each tensor on its own, by positional reads in chunks, so no part of the code
 * holds the whole file or indexes it with an int. Writes stream the same way and are atomic ({@link AtomicFile}):
 * a failed or killed write leaves the previous file intact.
 */
public final class Safetensors {

    /** Bytes moved per read or write call; tests lower it to cross chunk boundaries with small tensors. */
    static int chunkBytes = 64 << 20;

    /** What a file holds: tensors by name in file order, and the string metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
    }

    private Safetensors() {
    }

    /** The header alone: every tensor's dtype, shape and place, and the metadata; checked, no data read. */
    public static SafetensorsHeader header(Path file) throws IOException {
        return SafetensorsHeader.read(file);
    }

    /** Reads every tensor (onto the CPU) and the metadata. */
    public static Contents read(Path file) throws IOException {
        SafetensorsHeader h = header(file);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (String name : h.tensors().keySet()) {
                tensors.put(name, readTensor(ch, file, h, name));
            }
        }
        return new Contents(tensors, h.metadata());
    }

    /** Reads tensor {@code name} of a file whose header is {@code h} onto the CPU. */
    public static Tensor readTensor(Path file, SafetensorsHeader h, String name) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readTensor(ch, file, h, name);
        }
    }

    private static Tensor readTensor(FileChannel ch, Path file, SafetensorsHeader h, String name) throws IOException {
        SafetensorsHeader.TensorInfo info = h.tensors().get(name);
        if (info == null) {
            throw new CheckpointException(file + ": no tensor '" + name + "'");
        }
        long n = info.shape().size();
        if (n > Integer.MAX_VALUE - 8) {
            throw new CheckpointException(file + ": tensor '" + name + "' " + info.shape() + " has " + n
                    + " elements, more than one Java array holds");
        }
        int[] dims = info.shape().dims();
        int size = (int) n;
        Tensor t = switch (info.dtype()) {
            case FLOAT32 -> {
                float[] v = new float[size];
                read(ch, file, h.dataStart() + info.begin(), 4, size, (b, at, len) -> b.asFloatBuffer().get(v, at, len));
                yield Tensor.of(v, dims);
            }
            case FLOAT64 -> {
                double[] v = new double[size];
                read(ch, file, h.dataStart() + info.begin(), 8, size, (b, at, len) -> b.asDoubleBuffer().get(v, at, len));
                yield Tensor.of(v, dims);
            }
            case BFLOAT16 -> {
                short[] v = new short[size];
                read(ch, file, h.dataStart() + info.begin(), 2, size, (b, at, len) -> b.asShortBuffer().get(v, at, len));
                yield Tensor.ofBf16Bits(v, dims);
            }
            case INT32 -> {
                int[] v = new int[size];
                if (info.width() == 8) { // I64, as PyTorch stores its counters
                    read(ch, file, h.dataStart() + info.begin(), 8, size, (b, at, len) -> {
                        for (int i = 0; i < len; i++) {
                            long x = b.getLong(8 * i);
                            if (x != (int) x) {
                                throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' holds " + x
                                        + ", beyond the int32 backprop4j reads I64 tensors as");
                            }
                            v[at + i] = (int) x;
                        }
                    });
                } else {
                    read(ch, file, h.dataStart() + info.begin(), 4, size,
                            (b, at, len) -> b.asIntBuffer().get(v, at, len));
                }
                yield Tensor.of(v, dims);
            }
        };
        return t.name(name);
    }

    /**
     * Fails, naming the file and the tensor, when a floating-point tensor of the file holds a NaN or an infinity;
     * reads it in chunks without keeping it, so a whole file can be checked before anything is loaded.
     */
    public static void requireFinite(Path file, SafetensorsHeader h, String name) throws IOException {
        SafetensorsHeader.TensorInfo info = h.tensors().get(name);
        if (info == null || !info.dtype().isFloating()) {
            return;
        }
        long n = info.shape().size();
        int width = info.dtype().bytes();
        long[] found = {0, -1};
        double[] firstValue = new double[1];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long perChunk = Math.max(1, chunkBytes / width);
            for (long done = 0; done < n; done += perChunk) {
                int len = (int) Math.min(perChunk, n - done);
                long base = done;
                read(ch, file, h.dataStart() + info.begin() + done * width, width, len, (b, at, count) -> {
                    for (int i = 0; i < count; i++) {
                        double v = width == 2 ? BFloat16.toFloat(b.getShort(i * 2))
                                : width == 4 ? b.getFloat(i * 4) : b.getDouble(i * 8);
                        if (!Double.isFinite(v)) {
                            if (found[0]++ == 0) {
                                found[1] = base + at + i;
                                firstValue[0] = v;
                            }
                        }
                    }
                });
            }
        }
        if (found[0] > 0) {
            throw new CheckpointException(file + ": tensor '" + name + "' holds " + found[0] + " NaN or infinite "
                    + "value" + (found[0] == 1 ? "" : "s") + " (the first at element " + found[1] + ": " + firstValue[0]
                    + "); the run that wrote it diverged, so it can be neither scored nor trained on");
        }
    }

    /** Takes elements [at, at + len) of the array being filled from a little-endian buffer. */
    @FunctionalInterface
    private interface Sink {
        void take(ByteBuffer buffer, int at, int len);
    }

    private static void read(FileChannel ch, Path file, long position, int width, int count, Sink sink)
            throws IOException {
        int perChunk = Math.max(1, chunkBytes / width);
        ByteBuffer buf = ByteBuffer.allocate(Math.min(count, perChunk) * width).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < count; at += perChunk) {
            int len = Math.min(perChunk, count - at);
            buf.clear().limit(len * width);
            SafetensorsHeader.readFully(ch, buf, position + (long) at * width, file);
            buf.flip();
            sink.take(buf, at, len);
        }
    }

    /** Writes the tensors (any device; read back to the host one at a time) and the metadata, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long bytes = Math.multiplyExact(t.size(), (long) t.dtype().bytes());
            JsonObject entry = new JsonObject();
            entry.addProperty("dtype", SafetensorsHeader.code(t.dtype()));
            JsonArray shape = new JsonArray();
            for (int d : t.shape().dims()) {
                shape.add(d);
            }
            entry.add("shape", shape);
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            entry.add("data_offsets", offsets);
            header.add(e.getKey(), entry);
            offset += bytes;
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        AtomicFile.write(file, ch -> {
            writeFully(ch, prefix);
            for (Tensor t : tensors.values()) {
                writeData(ch, t);
            }
        });
    }

    private static void writeData(FileChannel ch, Tensor t) throws IOException {
        int n = (int) t.size();
        int width = t.dtype().bytes();
        int perChunk = Math.max(1, chunkBytes / width);
        ByteBuffer buf = ByteBuffer.allocate(Math.max(1, Math.min(n, perChunk)) * width).order(ByteOrder.LITTLE_ENDIAN);
        Object host = switch (t.dtype()) {
            case FLOAT32 -> t.toFloatArray();
            case FLOAT64 -> t.toDoubleArray();
            case INT32 -> t.toIntArray();
            case BFLOAT16 -> t.toBf16Bits();
        };
        for (int at = 0; at < n; at += perChunk) {
            int len = Math.min(perChunk, n - at);
            buf.clear();
            switch (t.dtype()) {
                case FLOAT32 -> buf.asFloatBuffer().put((float[]) host, at, len);
                case FLOAT64 -> buf.asDoubleBuffer().put((double[]) host, at, len);
                case INT32 -> buf.asIntBuffer().put((int[]) host, at, len);
                case BFLOAT16 -> buf.asShortBuffer().put((short[]) host, at, len);
            }
            buf.limit(len * width);
            writeFully(ch, buf);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
