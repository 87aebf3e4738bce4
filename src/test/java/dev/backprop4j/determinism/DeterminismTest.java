package dev.backprop4j.determinism;

import dev.backprop4j.nn.Activation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One value in, one value out: on a given CPU an op gives the same bits whatever the JIT tier, the number of threads
 * or the order of calls, and a resumed run of any activation ends byte for byte where an unstopped one ends. Each
 * configuration runs in a JVM of its own: {@link Workload} compares its first (cold) and its C2-compiled (warm)
 * results; with one core it must give the same bits as with all of them; with AVX2 only (narrower vectors, which may
 * change the bits of sums) it must agree with itself; without the Vector API too.
 */
class DeterminismTest {
    private static final Pattern COLD_WARM = Pattern.compile("cold=([0-9a-f]+) warm=([0-9a-f]+)");

    @TempDir
    Path dir;

    private static String child(Class<?> main, String... flags) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Dbackprop4j.relaunch=false"));
        cmd.addAll(List.of(flags));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "child JVM did not finish: " + cmd);
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** The fingerprint computed cold and warm, which must be equal; returns it. */
    private static String coldEqualsWarm(String... flags) throws Exception {
        String out = child(Workload.class, flags);
        Matcher m = COLD_WARM.matcher(out);
        assertTrue(m.find(), out);
        assertEquals(m.group(1), m.group(2), "cold and warm bits differ with " + List.of(flags) + ": " + out);
        return m.group(1);
    }

    @Test
    void theSameBitsColdAndWarmAndOnOneCoreOrAll() throws Exception {
        String all = coldEqualsWarm();
        String one = coldEqualsWarm("-XX:ActiveProcessorCount=1");
        assertEquals(all, one, "one core and all cores give different bits");
    }

    @Test
    void theSameBitsColdAndWarmWithAvx2OnlyAndWithoutTheVectorApi() throws Exception {
        coldEqualsWarm("-XX:UseAVX=2");
        coldEqualsWarm("-Dbackprop4j.vector=false");
    }

    /** In this JVM (the Vector API on), and in ones with AVX2 only and without the Vector API. */
    @Test
    void everyActivationResumesBitForBit() throws Exception {
        for (Activation a : Activation.values()) {
            if (a != Activation.IDENTITY) {
                assertTrue(ResumeCheck.resumesExactly(a, dir), a + ": the resumed run ends elsewhere");
            }
        }
        for (String flag : new String[] {"-XX:UseAVX=2", "-Dbackprop4j.vector=false"}) {
            String out = child(ResumeCheck.class, flag);
            assertTrue(out.contains("done") && !out.contains("DIFFERENT"), flag + ":\n" + out);
        }
    }
}
