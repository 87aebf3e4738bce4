package dev.backprop4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataReadersTest {
    @TempDir
    Path dir;

    static byte[] idx(int magic, int[] dims, byte[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + values.length);
        b.putInt(magic);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.put(values).array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    @Test
    void readsPlainAndGzipIdx() throws IOException {
        byte[] raw = idx(Idx.IMAGES_MAGIC, new int[]{2, 2, 2}, new byte[]{0, 1, 2, 3, 4, 5, 6, (byte) 255});
        for (byte[] bytes : new byte[][]{raw, gzip(raw)}) {
            Idx.Data d = Idx.read(new ByteArrayInputStream(bytes), "test", Idx.IMAGES_MAGIC);
            assertArrayEquals(new int[]{2, 2, 2}, d.dims());
            assertEquals(4, d.itemSize());
            assertEquals((byte) 255, d.values()[7]);
        }
    }

    @Test
    void rejectsWrongMagicTruncationAndCorruptGzip() throws IOException {
        byte[] labels = idx(Idx.LABELS_MAGIC, new int[]{3}, new byte[]{1, 2, 3});
        DataFormatException magic = assertThrows(DataFormatException.class,
                () -> Idx.read(new ByteArrayInputStream(labels), "labels.idx", Idx.IMAGES_MAGIC));
        assertTrue(magic.getMessage().contains("labels.idx") && magic.getMessage().contains("2049")
                && magic.getMessage().contains("2051"), magic.getMessage());
        byte[] truncated = java.util.Arrays.copyOf(labels, labels.length - 1);
        DataFormatException trunc = assertThrows(DataFormatException.class,
                () -> Idx.read(new ByteArrayInputStream(truncated), "t.idx", Idx.LABELS_MAGIC));
        assertTrue(trunc.getMessage().contains("truncated"), trunc.getMessage());
        byte[] gz = gzip(labels);
        byte[] broken = java.util.Arrays.copyOf(gz, gz.length - 6);
        DataFormatException corrupt = assertThrows(DataFormatException.class,
                () -> Idx.read(new ByteArrayInputStream(broken), "b.gz", Idx.LABELS_MAGIC));
        assertTrue(corrupt.getMessage().contains("gzip"), corrupt.getMessage());
    }

    @Test
    void loadsAnMnistFolderAndChecksLabels() throws IOException {
        byte[] px = new byte[2 * 4];
        px[3] = (byte) 255;
        for (String split : new String[]{"train", "t10k"}) {
            Files.write(dir.resolve(split + "-images-idx3-ubyte"), idx(Idx.IMAGES_MAGIC, new int[]{2, 2, 2}, px));
            Files.write(dir.resolve(split + "-labels-idx1-ubyte.gz"), gzip(idx(Idx.LABELS_MAGIC, new int[]{2}, new byte[]{7, 3})));
        }
        Dataset.Split s = Mnist.load(dir);
        assertEquals(2, s.train().size());
        assertEquals(4, s.train().features());
        assertEquals(7, s.test().label(0));
        assertEquals((1 - Mnist.MEAN) / Mnist.STD, s.train().sample(0)[3], 1e-6);
        Files.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), gzip(idx(Idx.LABELS_MAGIC, new int[]{2}, new byte[]{7, 12})));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().contains("label 12") && e.getMessage().contains("t10k-labels"), e.getMessage());
        Files.delete(dir.resolve("train-images-idx3-ubyte"));
        assertThrows(NoSuchFileException.class, () -> Mnist.load(dir));
    }

    @Test
    void embeddedSubsetIsThere() {
        Dataset.Split s = Mnist.embedded();
        assertEquals(8000, s.train().size());
        assertEquals(2000, s.test().size());
        assertEquals(784, s.train().features());
    }

    @Test
    void readsCsvWithHeaderAndLabelColumn() throws IOException {
        Path f = dir.resolve("d.csv");
        Files.writeString(f, "a,label,b\n1.5,0,2\n-1,2,3e2\n\n0,1,0\n");
        Dataset d = Csv.read(f, 1);
        assertEquals(3, d.size());
        assertEquals(2, d.features());
        assertEquals(3, d.classes());
        assertArrayEquals(new float[]{-1, 300}, d.sample(1));
        assertEquals(2, d.label(1));
        Dataset last = Csv.read(dir.resolve("d.csv"), -1);
        assertEquals(300, last.label(1));
        assertArrayEquals(new float[]{-1, 2}, last.sample(1));
    }

    @Test
    void csvErrorsNameLineAndColumn() throws IOException {
        Path f = dir.resolve("bad.csv");
        Files.writeString(f, "1,2,0\n3,x,1\n");
        DataFormatException e = assertThrows(DataFormatException.class, () -> Csv.read(f, -1));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("column 2") && e.getMessage().contains("'x'"),
                e.getMessage());
        Files.writeString(f, "1,2,0\n3,4,1.5\n");
        DataFormatException label = assertThrows(DataFormatException.class, () -> Csv.read(f, -1));
        assertTrue(label.getMessage().contains("line 2") && label.getMessage().contains("label"), label.getMessage());
        Files.writeString(f, "1,2,0\n3,4\n");
        DataFormatException cols = assertThrows(DataFormatException.class, () -> Csv.read(f, -1));
        assertTrue(cols.getMessage().contains(":2:") && cols.getMessage().contains("2 columns"), cols.getMessage());
    }

    @Test
    void loaderBatchesShufflesReproduciblyAndDropsLast() {
        float[] x = new float[10];
        int[] y = new int[10];
        for (int i = 0; i < 10; i++) {
            x[i] = i;
            y[i] = i % 2;
        }
        Dataset d = new Dataset(x, y, 1, 2);
        DataLoader keep = new DataLoader(d, 4, false, 0, false, dev.backprop4j.core.Device.CPU);
        assertEquals(3, keep.batches());
        DataLoader drop = new DataLoader(d, 4, true, 7, true, dev.backprop4j.core.Device.CPU);
        assertEquals(2, drop.batches());
        float[] first = drop.epoch(1).iterator().next().x().toFloatArray();
        float[] again = drop.epoch(1).iterator().next().x().toFloatArray();
        float[] other = drop.epoch(2).iterator().next().x().toFloatArray();
        assertArrayEquals(first, again);
        assertTrue(!java.util.Arrays.equals(first, other));
        int count = 0;
        for (DataLoader.Batch b : keep.epoch(0)) {
            count += b.size();
        }
        assertEquals(10, count);
    }

    @Test
    void datasetRangesAreChecked() {
        Dataset d = new Dataset(new float[]{1, 2}, new int[]{0, 1}, 1, 2);
        assertThrows(IllegalArgumentException.class, () -> d.range(0, 5));
        assertThrows(IllegalArgumentException.class, () -> d.range(2, 1));
        assertThrows(IllegalArgumentException.class, () -> d.head(-1));
        assertEquals(1, d.range(1, 2).size());
    }

    @Test
    void csvHeaderAfterABlankLineWithANumericNameAndAByteOrderMark() throws IOException {
        Path f = dir.resolve("h.csv");
        Files.writeString(f, "\uFEFF\nx,2020,label\n1,2,0\n3,4,1\n");
        Dataset d = Csv.read(f, -1);
        assertEquals(2, d.size());
        assertArrayEquals(new float[]{3, 4}, d.sample(1));
        Files.writeString(f, "1,x,0\n3,4,1\n");
        DataFormatException e = assertThrows(DataFormatException.class, () -> Csv.read(f, -1));
        assertTrue(e.getMessage().contains("line 1, column 2"), e.getMessage());
    }
}
