package dev.backprop4j.data;

import dev.backprop4j.core.Excerpt;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reader of the IDX format of the MNIST files: a 4-byte magic (0, 0, type 0x08 = unsigned byte, number of
 * dimensions), the dimensions as big-endian 32-bit integers, then the values. Plain or gzip-compressed
 * (recognised by its first two bytes). Every size is checked against the data actually present.
 */
public final class Idx {
    /** Magic number of MNIST label files: unsigned bytes, 1 dimension. */
    public static final int LABELS_MAGIC = 2049;
    /** Magic number of MNIST image files: unsigned bytes, 3 dimensions. */
    public static final int IMAGES_MAGIC = 2051;

    /** The dimensions and the unsigned byte values of an IDX file. */
    public record Data(int[] dims, byte[] values) {
        public int count() {
            return dims[0];
        }

        /** Values per item (product of the dimensions after the first). */
        public int itemSize() {
            int n = 1;
            for (int i = 1; i < dims.length; i++) {
                n *= dims[i];
            }
            return n;
        }
    }

    /** The most values (bytes) an IDX file may hold here, unpacked: 1 GiB (MNIST's largest file is 47 MB). */
    static int maxBytes = 1 << 30; // tests lower it

    private Idx() {
    }

    /**
     * Reads an IDX stream named {@code source} (for messages) and checks its magic number.
     *
     * @throws DataFormatException naming the source when the magic, the sizes or the gzip data are wrong
     */
    public static Data read(InputStream in, String source, int expectedMagic) throws IOException {
        byte[] raw = in.readAllBytes();
        if (raw.length >= 2 && (raw[0] & 0xff) == 0x1f && (raw[1] & 0xff) == 0x8b) {
            try (InputStream gz = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                raw = gz.readNBytes(maxBytes);
                if (gz.read() >= 0) {
                    throw new DataFormatException(source + ": the gzip data unpacks to more than " + maxBytes
                            + " bytes, more than an IDX file this reader takes (MNIST's largest is 47 MB); is it a "
                            + "gzip bomb?");
                }
            } catch (java.io.EOFException e) {
                throw new DataFormatException(source + ": corrupt gzip data (it ends early)");
            } catch (IOException e) {
                throw new DataFormatException(source + ": corrupt gzip data (" + (e.getMessage() != null
                        ? Excerpt.of(e.getMessage()) : e.getClass().getSimpleName()) + ")");
            }
        }
        if (raw.length < 4) {
            throw new DataFormatException(source + ": " + raw.length + " bytes is too short for an IDX file");
        }
        ByteBuffer buf = ByteBuffer.wrap(raw);
        int magic = buf.getInt();
        if (magic != expectedMagic) {
            throw new DataFormatException(source + ": magic number " + magic + " (0x" + Integer.toHexString(magic)
                    + "), expected " + expectedMagic + " (0x" + Integer.toHexString(expectedMagic) + ")");
        }
        int ndims = magic & 0xff;
        if (raw.length < 4 + 4 * ndims) {
            throw new DataFormatException(source + ": truncated header (" + raw.length + " bytes)");
        }
        int[] dims = new int[ndims];
        long count = 1;
        for (int i = 0; i < ndims; i++) {
            dims[i] = buf.getInt();
            if (dims[i] < 0) {
                throw new DataFormatException(source + ": negative dimension " + dims[i]);
            }
            count *= dims[i]; // no overflow: count is at most maxBytes here, dims[i] below 2^31
            if (count > maxBytes) {
                throw new DataFormatException(source + ": header " + Arrays.toString(Arrays.copyOf(dims, i + 1))
                        + (i + 1 < ndims ? "..." : "") + " announces more values than an IDX file this reader takes "
                        + "(at most " + maxBytes + ")");
            }
        }
        long item = 1;
        for (int i = 1; i < ndims; i++) {
            item *= dims[i];
            if (item > maxBytes) {
                throw new DataFormatException(source + ": header " + Arrays.toString(dims) + " announces items of more "
                        + "than " + maxBytes + " values");
            }
        }
        long present = raw.length - 4L - 4L * ndims;
        if (present != count) {
            throw new DataFormatException(source + ": header " + Arrays.toString(dims) + " announces " + count
                    + " values but the file holds " + present + (present < count ? " (truncated)" : " (trailing data)"));
        }
        return new Data(dims, Arrays.copyOfRange(raw, 4 + 4 * ndims, raw.length));
    }
}
