package dev.backprop4j.cli;

import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.train.RunMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Model files made to hurt: what they hold reaches the terminal as a short, escaped excerpt, in one line; a header
 * that is not JSON says so without the JSON library's advice to programmers.
 */
class HostileModelFilesTest {
    @TempDir
    Path dir;

    private static void assertTame(CliRun r) {
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().length() < 600, () -> r.err().length() + " characters: " + r.err().substring(0, 600));
        assertFalse(r.err().chars().anyMatch(c -> c == 0x1b || c == 0x07), "an escape sequence reached the terminal");
    }

    @Test
    void metadataWithEscapesAndHugeValuesIsQuotedShortAndEscaped() throws Exception {
        Path f = dir.resolve("evil.safetensors");
        Checkpoint.save(f, Mlp.of(4, 2).build(), Map.of(RunMetadata.LAYERS, "\u001b[2J\u001b]0;x\u0007" + "9".repeat(100_000),
                RunMetadata.ACTIVATION, "relu"));
        CliRun r = CliRun.of("evaluate", "--model", f.toString(), "--device", "cpu");
        assertTame(r);
        assertTrue(r.err().contains("backprop4j.layers"), r.err());
    }

    @Test
    void aHeaderThatIsNotJsonGetsNoAdviceForProgrammers() throws Exception {
        byte[] json = "{a: 1}  ".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        Path f = dir.resolve("broken.safetensors");
        Files.write(f, b.array());
        CliRun r = CliRun.of("evaluate", "--model", f.toString(), "--device", "cpu");
        assertTame(r);
        assertTrue(r.err().contains("header is not valid JSON"), r.err());
        assertFalse(r.err().contains("setStrictness") || r.err().contains("https://"), r.err());
    }
}
