package dev.backprop4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The house stacks as the README's architecture section says: each package of the library refers only to packages
 * below it in {@link #LAYERS}, except the one deliberate cycle (Tensor offers the ops as methods, in TensorOps);
 * the CUDA backend exposes only its entry point; no main source file is over 400 lines.
 */
class ArchitectureTest {

    /** Bottom to top. A package may refer to packages before it; backend.cpu and backend.cuda are siblings. */
    static final List<String> LAYERS = List.of("core", "backend", "backend.cpu", "backend.cuda", "tensor", "ops",
            "nn", "optim", "data", "io", "train", "distributed", "cli", "spark");

    private static final Path MAIN = Path.of("src/main/java/dev/backprop4j");
    private static final Pattern REFERENCE = Pattern.compile("dev\\.backprop4j\\.([a-z.]+?)\\.[A-Z]");

    private static List<Path> sources() throws IOException {
        try (Stream<Path> files = Files.walk(MAIN)) {
            return files.filter(p -> p.toString().endsWith(".java")).toList();
        }
    }

    private static String packageOf(Path file) {
        return MAIN.relativize(file.getParent()).toString().replace('/', '.');
    }

    /** The code without comments and string literals. */
    private static String code(Path file) throws IOException {
        return Files.readString(file).replaceAll("(?s)/\\*.*?\\*/|//[^\\n]*|\"(?:\\\\.|[^\"\\\\])*\"", "");
    }

    @Test
    void packagesReferOnlyToTheLayersBelowThem() throws IOException {
        assumeTrue(Files.isDirectory(MAIN), "sources not found");
        List<String> wrong = new ArrayList<>();
        for (Path f : sources()) {
            String pkg = packageOf(f);
            int level = LAYERS.indexOf(pkg);
            assertTrue(level >= 0, f + ": package " + pkg + " is not in ArchitectureTest.LAYERS (and the README)");
            for (Matcher m = REFERENCE.matcher(code(f)); m.find(); ) {
                String target = m.group(1);
                int t = LAYERS.indexOf(target);
                boolean deliberate = pkg.equals("tensor") && target.equals("ops")
                        && f.getFileName().toString().equals("TensorOps.java");
                boolean siblings = pkg.startsWith("backend.") && target.startsWith("backend.");
                if (!target.equals(pkg) && (t < 0 || t > level || siblings) && !deliberate) {
                    wrong.add(f.getFileName() + " (" + pkg + ") refers to " + target);
                }
            }
        }
        assertTrue(wrong.isEmpty(), "references that go up the stack:\n" + String.join("\n", wrong));
    }

    @Test
    void theCudaBackendExposesOnlyItsEntryPoint() throws IOException {
        for (Path f : sources()) {
            if (packageOf(f).equals("backend.cuda") && !f.getFileName().toString().equals("Cuda.java")) {
                assertTrue(!Files.readString(f).matches("(?s).*\\npublic (final )?(class|interface|record|enum) .*"),
                        f + " is public; only Cuda is the CUDA backend's public entry point");
            }
        }
    }

    @Test
    void noMainSourceFileIsOver400Lines() throws IOException {
        for (Path f : sources()) {
            long lines = Files.readAllLines(f).size();
            assertTrue(lines <= 400, f + " has " + lines + " lines: split it along a seam a reader can name");
        }
    }
}
