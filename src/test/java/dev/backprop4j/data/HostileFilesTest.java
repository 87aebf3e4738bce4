package dev.backprop4j.data;

import dev.backprop4j.core.Excerpt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data files made to hurt, as a fuzzer makes them: messages quote at most a short, escaped excerpt of what the file
 * holds; an IDX header whose sizes overflow and a gzip bomb are refused for what they are; corrupt gzip data says
 * so without "(null)". And the forms spreadsheets and data frames export: quoted numbers, numbered headers.
 */
class HostileFilesTest {
    @TempDir
    Path dir;

    @Test
    void anExcerptEscapesControlCharactersAndCutsLongText() {
        assertEquals("a\\u001b[2Jb", Excerpt.of("a\u001b[2Jb"));
        assertEquals("\\u202emoc.exe", Excerpt.of("\u202emoc.exe"), "a bidirectional override is invisible");
        String cut = Excerpt.of("x".repeat(100_000));
        assertTrue(cut.length() < 100 && cut.endsWith("... (99960 more characters)"), cut);
        assertEquals("\uD83D\uDE00 ok", Excerpt.of("\uD83D\uDE00 ok"), "a whole emoji stays");
    }

    @Test
    void aCsvCellQuotedInAMessageIsEscapedAndCut() throws IOException {
        Path f = dir.resolve("evil.csv");
        Files.writeString(f, "1,2,0\n\u001b]0;pwned\u0007" + "9".repeat(5000) + ",2,1\n");
        DataFormatException e = assertThrows(DataFormatException.class, () -> Csv.read(f, -1));
        assertFalse(e.getMessage().contains("\u001b") || e.getMessage().contains("\u0007"), e.getMessage());
        assertTrue(e.getMessage().length() < 300, e.getMessage());
        assertTrue(e.getMessage().contains("line 2, column 1: ']0;pwned\\u0007"), e.getMessage()); // trimmed ESC
    }

    @Test
    void quotedNumbersAndNumberedHeadersAreRead() throws IOException {
        Path quoted = dir.resolve("quoted.csv");
        Files.writeString(quoted, "\"a\",\"b\",\"label\"\n\"2.119\",\"-1\",\"1\"\n\"0.5\", \"3\" ,\"0\"\n");
        Dataset d = Csv.read(quoted, -1);
        assertEquals(2, d.size());
        assertArrayEquals(new float[] {2.119f, -1f}, d.sample(0));
        assertEquals(1, d.label(0));
        Path numbered = dir.resolve("numbered.csv");
        Files.writeString(numbered, "0,1,2\n0.5,1.5,1\n2.5,3.5,0\n");
        Dataset n = Csv.read(numbered, -1);
        assertEquals(2, n.size(), "the numbered header is not a row");
        assertEquals(2, n.classes(), "nor is its 2 a class");
    }

    private static byte[] idx(int magic, int... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length);
        b.putInt(magic);
        for (int d : dims) {
            b.putInt(d);
        }
        return b.array();
    }

    @Test
    void anIdxHeaderWhoseSizesOverflowIsRefusedForWhatItIs() {
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.read(new ByteArrayInputStream(
                idx(Idx.IMAGES_MAGIC, 65536, 65536, 65536)), "images", Idx.IMAGES_MAGIC));
        assertTrue(e.getMessage().contains("announces more values than an IDX file this reader takes"),
                e.getMessage());
        DataFormatException items = assertThrows(DataFormatException.class, () -> Idx.read(new ByteArrayInputStream(
                idx(Idx.IMAGES_MAGIC, 0, 1 << 20, 1 << 20)), "images", Idx.IMAGES_MAGIC));
        assertTrue(items.getMessage().contains("announces items of more than"), items.getMessage());
    }

    @Test
    void aGzipBombAndCorruptGzipDataAreRefusedPlainly() throws IOException {
        int saved = Idx.maxBytes;
        Idx.maxBytes = 1 << 20;
        try {
            ByteArrayOutputStream bomb = new ByteArrayOutputStream();
            try (GZIPOutputStream gz = new GZIPOutputStream(bomb)) {
                gz.write(new byte[(1 << 20) + 1]);
            }
            DataFormatException e = assertThrows(DataFormatException.class,
                    () -> Idx.read(new ByteArrayInputStream(bomb.toByteArray()), "bomb.gz", Idx.IMAGES_MAGIC));
            assertTrue(e.getMessage().contains("unpacks to more than 1048576 bytes") && !e.getMessage().contains("-Xmx"),
                    e.getMessage());
        } finally {
            Idx.maxBytes = saved;
        }
        byte[] corrupt = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> Idx.read(new ByteArrayInputStream(corrupt), "bad.gz", Idx.IMAGES_MAGIC));
        assertTrue(e.getMessage().startsWith("bad.gz: corrupt gzip data (") && !e.getMessage().contains("null"),
                e.getMessage());
    }
}
