package dev.backprop4j.docs;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Compiles and runs the README's code example exactly as printed and compares its output with the README's. */
class ReadmeExampleTest {

    private static String between(String text, String start, String end) {
        int a = text.indexOf(start);
        int b = text.indexOf(end);
        assertTrue(a >= 0 && b > a, "README lacks " + start + " ... " + end);
        String block = text.substring(a + start.length(), b).strip();
        return block.substring(block.indexOf('\n') + 1, block.lastIndexOf("```"));
    }

    @Test
    void readmeExampleCompilesRunsAndPrintsWhatTheReadmeSays() throws Exception {
        runAndCompare("Example", "example", "output");
    }

    @Test
    void readmeLayersExampleCompilesRunsAndPrintsWhatTheReadmeSays() throws Exception {
        runAndCompare("Layers", "layers", "layers-output");
    }

    @Test
    void readmeLibraryExampleCompilesRunsAndPrintsWhatTheReadmeSays() throws Exception {
        runAndCompare("Library", "library", "library-output");
    }

    /** Compiles the README block {@code code} as class {@code name}, runs its main, compares with block {@code output}. */
    private void runAndCompare(String name, String code, String output) throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String source = between(readme, "<!-- " + code + ":start -->", "<!-- " + code + ":end -->");
        String expected = between(readme, "<!-- " + output + ":start -->", "<!-- " + output + ":end -->");
        Path dir = Files.createTempDirectory("readme-example");
        Path file = dir.resolve(name + ".java");
        Files.writeString(file, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, diagnostics, diagnostics, "-classpath", System.getProperty("java.class.path"),
                "-d", dir.toString(), file.toString());
        assertEquals(0, rc, diagnostics.toString(StandardCharsets.UTF_8));
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[]{dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            loader.loadClass(name).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(saved);
        }
        assertEquals(expected.strip(), captured.toString(StandardCharsets.UTF_8).strip().replace("\r", ""));
    }

    @Test
    void readmeTrainingLoopCompiles() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String body = between(readme, "<!-- loop:start -->", "<!-- loop:end -->");
        String source = String.join("\n",
                "import dev.backprop4j.data.DataLoader;",
                "import dev.backprop4j.data.Mnist;",
                "import dev.backprop4j.nn.Activation;",
                "import dev.backprop4j.nn.Mlp;",
                "import dev.backprop4j.nn.Sequential;",
                "import dev.backprop4j.optim.Adam;",
                "import dev.backprop4j.core.Device;",
                "import dev.backprop4j.tensor.Scope;",
                "import dev.backprop4j.tensor.Tensor;",
                "public class Loop {",
                "    static void train(Device device) {",
                body,
                "    }",
                "}");
        Path dir = Files.createTempDirectory("readme-loop");
        Path file = dir.resolve("Loop.java");
        Files.writeString(file, source);
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = ToolProvider.getSystemJavaCompiler().run(null, diagnostics, diagnostics, "-classpath",
                System.getProperty("java.class.path"), "-d", dir.toString(), file.toString());
        assertEquals(0, rc, diagnostics.toString(StandardCharsets.UTF_8));
    }
}
