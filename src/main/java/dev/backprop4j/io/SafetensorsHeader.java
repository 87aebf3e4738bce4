package dev.backprop4j.io;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Excerpt;
import dev.backprop4j.core.Shape;

import java.io.EOFException;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The header of a safetensors file: every tensor's dtype, shape and place in the data section (in file order), the
 * string metadata, and where the data section starts. {@link #read} reads and checks it as strictly as the reference implementation: an 8-byte
 * little-endian size of at most 100 MiB that fits the file, strict UTF-8, strict JSON (no comments, unquoted keys,
 * trailing commas or duplicate names), one object per tensor with a known dtype, a shape of non-negative integers
 * and exactly two non-negative integer data offsets, element and byte counts computed without overflow, and
 * offsets that tile the data section from byte 0 to its end without gaps or overlaps. Metadata values must be
 * strings. Every failure is a {@link CheckpointException} naming the file (and the tensor).
 */
public record SafetensorsHeader(Map<String, TensorInfo> tensors, Map<String, String> metadata, long dataStart) {

    /**
     * Where one tensor lies: the dtype it is read as, its shape, its byte range [begin, end) in the data section, and
     * the bytes of one stored element (8 for I64, read as INT32).
     */
    public record TensorInfo(DType dtype, Shape shape, long begin, long end, int width) {
    }

    static final long MAX_HEADER = 100L << 20;
    private static final Pattern UNSIGNED = Pattern.compile("0|[1-9][0-9]*");

    /** The header's code of a dtype: F32, F64, I32, BF16. */
    static String code(DType d) {
        return switch (d) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case INT32 -> "I32";
            case BFLOAT16 -> "BF16";
        };
    }

    /** The dtype of a header's code, or an error naming the file and tensor. */
    static DType dtype(String code, Path file, String name) {
        return switch (code) {
            case "F32" -> DType.FLOAT32;
            case "F64" -> DType.FLOAT64;
            case "I32", "I64" -> DType.INT32; // I64: PyTorch's counters (num_batches_tracked), range-checked on reading
            case "BF16" -> DType.BFLOAT16;
            default -> throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has dtype "
                    + Excerpt.of(code) + ", which backprop4j does not read (F32, F64, I32, I64, BF16)");
        };
    }


    static SafetensorsHeader read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointException(file + ": " + size + " bytes is too short for a safetensors file");
            }
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, prefix, 0, file);
            long n = prefix.getLong(0);
            if (n <= 0 || n > MAX_HEADER || n > size - 8) {
                throw new CheckpointException(file + ": header size " + Long.toUnsignedString(n) + " does not fit the "
                        + "file of " + size + " bytes (truncated or not safetensors)");
            }
            ByteBuffer json = ByteBuffer.allocate((int) n);
            readFully(ch, json, 8, file);
            json.flip();
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(json).toString();
            } catch (CharacterCodingException e) {
                throw new CheckpointException(file + ": header is not valid UTF-8");
            }
            return parse(text, file, 8 + n, size - 8 - n);
        }
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw new CheckpointException(file + ": ends at byte " + pos + " (truncated)");
            }
            pos += r;
        }
    }

    private static SafetensorsHeader parse(String text, Path file, long dataStart, long dataLength) {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try (JsonReader r = new JsonReader(new StringReader(text))) {
            r.setStrictness(Strictness.STRICT);
            if (r.peek() != JsonToken.BEGIN_OBJECT) {
                throw new CheckpointException(file + ": header is not a JSON object");
            }
            r.beginObject();
            while (r.hasNext()) {
                String name = r.nextName();
                if (tensors.containsKey(name) || (name.equals("__metadata__") && !metadata.isEmpty())) {
                    throw new CheckpointException(file + ": the header names '" + Excerpt.of(name) + "' twice");
                }
                if (name.equals("__metadata__")) {
                    readMetadata(r, file, metadata);
                } else {
                    tensors.put(name, readTensor(r, file, name));
                }
            }
            r.endObject();
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new CheckpointException(file + ": text after the header's JSON object");
            }
        } catch (MalformedJsonException | EOFException | IllegalStateException e) {
            throw new CheckpointException(file + ": header is not valid JSON (" + firstClause(e.getMessage()) + ")");
        } catch (IOException e) {
            throw new CheckpointException(file + ": header cannot be read (" + firstClause(e.getMessage()) + ")");
        }
        checkTiling(tensors, file, dataLength);
        return new SafetensorsHeader(tensors, metadata, dataStart);
    }

    private static void readMetadata(JsonReader r, Path file, Map<String, String> metadata) throws IOException {
        if (r.peek() != JsonToken.BEGIN_OBJECT) {
            throw new CheckpointException(file + ": __metadata__ is not an object of strings");
        }
        r.beginObject();
        while (r.hasNext()) {
            String key = r.nextName();
            if (r.peek() != JsonToken.STRING) {
                throw new CheckpointException(file + ": metadata '" + Excerpt.of(key) + "' is not a string");
            }
            if (metadata.put(key, r.nextString()) != null) {
                throw new CheckpointException(file + ": metadata '" + Excerpt.of(key) + "' is given twice");
            }
        }
        r.endObject();
    }

    private static TensorInfo readTensor(JsonReader r, Path file, String name) throws IOException {
        if (r.peek() != JsonToken.BEGIN_OBJECT) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' is not an object");
        }
        String dtype = null;
        List<Long> shape = null;
        List<Long> offsets = null;
        r.beginObject();
        while (r.hasNext()) {
            String field = r.nextName();
            switch (field) {
                case "dtype" -> {
                    if (r.peek() != JsonToken.STRING) {
                        throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has a dtype that is not a string");
                    }
                    dtype = r.nextString();
                }
                case "shape" -> shape = unsignedList(r, file, name, "shape");
                case "data_offsets" -> offsets = unsignedList(r, file, name, "data_offsets");
                default -> r.skipValue();
            }
        }
        r.endObject();
        if (dtype == null || shape == null || offsets == null) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' lacks " + (dtype == null ? "dtype"
                    : shape == null ? "shape" : "data_offsets"));
        }
        if (offsets.size() != 2) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has " + offsets.size()
                    + " data_offsets, not 2 (begin, end)");
        }
        DType type = dtype(dtype, file, name);
        long elements = 1;
        int[] dims = new int[shape.size()];
        for (int i = 0; i < dims.length; i++) {
            long d = shape.get(i);
            try {
                elements = Math.multiplyExact(elements, d);
            } catch (ArithmeticException e) {
                throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has shape " + shape
                        + ", more elements than 64 bits count");
            }
            if (d > Integer.MAX_VALUE) {
                throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has a dimension of " + d
                        + ", more than backprop4j's 2^31 - 1");
            }
            dims[i] = (int) d;
        }
        long begin = offsets.get(0);
        long end = offsets.get(1);
        long bytes;
        try {
            bytes = Math.multiplyExact(elements, dtype.equals("I64") ? 8L : type.bytes());
        } catch (ArithmeticException e) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' " + shape + " is too large to address");
        }
        if (end < begin || end - begin != bytes) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' " + shape + " " + type + " needs " + bytes
                    + " bytes but its data_offsets are [" + begin + ", " + end + "]");
        }
        return new TensorInfo(type, Shape.of(dims), begin, end, (int) (bytes / Math.max(1, elements)));
    }

    /** A JSON array of integers in [0, 2^63): no strings, fractions, signs or exponents. */
    private static List<Long> unsignedList(JsonReader r, Path file, String name, String field) throws IOException {
        if (r.peek() != JsonToken.BEGIN_ARRAY) {
            throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has a " + field + " that is not an array");
        }
        List<Long> out = new ArrayList<>();
        r.beginArray();
        while (r.hasNext()) {
            String v = r.peek() == JsonToken.NUMBER ? r.nextString() : null;
            if (v == null || !UNSIGNED.matcher(v).matches() || v.length() > 19) {
                throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has " + field + " entry "
                        + (v == null ? "that is not a number" : v) + ", not an integer in [0, 2^63)");
            }
            try {
                out.add(Long.parseLong(v));
            } catch (NumberFormatException e) {
                throw new CheckpointException(file + ": tensor '" + Excerpt.of(name) + "' has " + field + " entry " + v
                        + ", not an integer in [0, 2^63)");
            }
        }
        r.endArray();
        return out;
    }

    /** Sorted by begin, the tensors start at 0, each where the previous ends, and the last ends at the file's end. */
    private static void checkTiling(Map<String, TensorInfo> tensors, Path file, long dataLength) {
        long expect = 0;
        for (Map.Entry<String, TensorInfo> e : tensors.entrySet().stream()
                .sorted(Comparator.comparingLong(x -> x.getValue().begin())).toList()) {
            if (e.getValue().begin() != expect) {
                throw new CheckpointException(file + ": tensor '" + Excerpt.of(e.getKey()) + "' starts at data byte "
                        + e.getValue().begin() + ", expected " + expect + " (overlapping or with gaps: corrupt header)");
            }
            expect = e.getValue().end();
        }
        if (expect != dataLength) {
            throw new CheckpointException(file + ": the tensors cover " + expect + " data bytes but the file holds "
                    + dataLength + (expect > dataLength ? " (truncated)" : " (trailing bytes: corrupt)"));
        }
    }

    /**
     * Gson's message without its advice to programmers ("Use JsonReader.setStrictness...", "See https://..."): what
     * went wrong and where, as "malformed JSON at line 1 column 3".
     */
    private static String firstClause(String message) {
        if (message == null) {
            return "unexpected end";
        }
        java.util.regex.Matcher where = Pattern.compile("at line (\\d+) column (\\d+)").matcher(message);
        String m = message;
        for (String advice : new String[] {"\nSee ", " See https://", "Use JsonReader.setStrictness"}) {
            int cut = m.indexOf(advice);
            m = cut < 0 ? m : m.substring(0, cut);
        }
        m = m.trim();
        if (m.isEmpty() || m.endsWith(";")) {
            m = (m.isEmpty() ? "malformed JSON" : m.substring(0, m.length() - 1));
            if (where.find() && !m.contains(" at line ")) {
                m += " at line " + where.group(1) + " column " + where.group(2);
            }
        }
        return Excerpt.of(m);
    }
}
