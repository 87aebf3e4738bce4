package dev.backprop4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The house stacks as the README's architecture section says: each package of the library refers only to packages
 * below it in {@link #LAYERS}, except the one deliberate cycle (Tensor offers the ops as methods, in TensorOps);
 * no two main files refer to each other, but Tensor and its core (its factories and ops, tape and scope); nothing above the ops touches a
 * backend buffer; the CUDA backend exposes only its entry point; no main source file is over 400 lines.
 */
class ArchitectureTest {

    /**
     * Bottom to top. A package may refer to packages before it; backend.cpu and backend.cuda are siblings, and the
     * conformance checks see the CUDA backend only as a Backend.
     */
    static final List<String> LAYERS = List.of("core", "backend", "backend.cpu", "backend.cuda", "backend.conformance",
            "tensor", "ops",
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
                boolean siblings = pkg.startsWith("backend.") && target.equals("backend.cuda");
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

    /**
     * Tensor and the files that hold tensors for it, which it calls back: the deliberate cycle (its factories and its
     * ops as methods, TensorFactories and TensorOps) and its history and lifetime (the tape, the scope).
     */
    private static boolean tensorCore(String a, String b) {
        return a.startsWith("tensor.") && b.startsWith("tensor.") && (a.equals("tensor.Tensor")
                || b.equals("tensor.Tensor"));
    }

    /** "pkg.Class" of a main file. */
    private static String nameOf(Path file) {
        String f = file.getFileName().toString();
        return packageOf(file) + "." + f.substring(0, f.length() - ".java".length());
    }

    /**
     * The main files a file refers to, as "pkg.Class": by a qualified name (imports included), or by the simple name
     * of a class in its own package.
     */
    private static Set<String> referencesOf(Path file, Set<String> all) throws IOException {
        String code = code(file);
        String own = nameOf(file);
        String pkg = packageOf(file);
        Set<String> out = new TreeSet<>();
        Matcher q = Pattern.compile("dev\\.backprop4j\\.([a-z.]+?)\\.([A-Z][A-Za-z0-9]*)").matcher(code);
        while (q.find()) {
            out.add(q.group(1) + "." + q.group(2));
        }
        for (String other : all) {
            String simple = other.substring(other.lastIndexOf('.') + 1);
            if (other.startsWith(pkg + ".") && other.lastIndexOf('.') == pkg.length()
                    && Pattern.compile("\\b" + simple + "\\b").matcher(code).find()) {
                out.add(other);
            }
        }
        out.remove(own);
        out.retainAll(all);
        return out;
    }

    /**
     * Arrows inside a package run one way too: no two main files refer to each other (a nested result type belongs to
     * the file that makes it, not to a facade that the maker then imports back), except Tensor with its core.
     */
    @Test
    void noTwoMainFilesReferToEachOther() throws IOException {
        Map<String, Set<String>> refs = new TreeMap<>();
        Set<String> all = new TreeSet<>();
        for (Path f : sources()) {
            all.add(nameOf(f));
        }
        for (Path f : sources()) {
            refs.put(nameOf(f), referencesOf(f, all));
        }
        List<String> mutual = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : refs.entrySet()) {
            for (String other : e.getValue()) {
                boolean back = refs.getOrDefault(other, Set.of()).contains(e.getKey());
                if (back && !tensorCore(e.getKey(), other) && e.getKey().compareTo(other) < 0) {
                    mutual.add(e.getKey() + " <-> " + other);
                }
            }
        }
        assertTrue(mutual.isEmpty(), "main files that refer to each other:\n" + String.join("\n", mutual));
    }

    /** Above the ops, tensors are used through their methods: nothing reaches into the backend's buffers. */
    @Test
    void nothingAboveTheOpsTouchesABuffer() throws IOException {
        Set<String> above = Set.of("nn", "optim", "train", "distributed", "cli", "spark");
        List<String> wrong = new ArrayList<>();
        for (Path f : sources()) {
            if (above.contains(packageOf(f)) && code(f).contains(".buffer()")) {
                wrong.add(f.toString());
            }
        }
        assertTrue(wrong.isEmpty(), "files above ops that call .buffer():\n" + String.join("\n", wrong));
    }

    @Test
    void noMainSourceFileIsOver400Lines() throws IOException {
        for (Path f : sources()) {
            long lines = Files.readAllLines(f).size();
            assertTrue(lines <= 400, f + " has " + lines + " lines: split it along a seam a reader can name");
        }
    }
}
