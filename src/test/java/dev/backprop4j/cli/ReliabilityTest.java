package dev.backprop4j.cli;

import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.train.RunMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a new user and a tester meet it: each case once broke, and now ends as the README says. */
class ReliabilityTest {
    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        PrintStream saved = System.err;
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int code;
        try {
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        } finally {
            System.setErr(saved);
        }
        return new Run(code, out.toString(), err + stderr.toString(StandardCharsets.UTF_8));
    }

    private static void oneLineError(Run r, int code, String... parts) {
        assertEquals(code, r.code, r.err);
        assertTrue(r.err.startsWith("error: "), r.err);
        assertEquals(1, r.err.strip().lines().count(), r.err);
        for (String p : parts) {
            assertTrue(r.err.contains(p), r.err);
        }
    }

    /** A 120-byte file whose metadata asks for 1.6 billion parameters used to allocate them before looking. */
    @Test
    void aCheckpointIsCheckedAgainstItsArchitectureBeforeAnythingIsAllocated() throws Exception {
        String json = "{\"__metadata__\":{\"backprop4j.layers\":\"784,40000,40000,10\",\"backprop4j.activation\":\"relu\"}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("huge.safetensors");
        Files.write(f, ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).array());
        long start = System.nanoTime();
        Run r = run("evaluate", "--model", f.toString(), "--device", "cpu");
        oneLineError(r, 1, "does not fit the model: missing [0.bias, 0.weight, 2.bias, 2.weight, 4.bias, 4.weight]");
        assertTrue(System.nanoTime() - start < 5_000_000_000L, "refused at once");
    }

    @Test
    void aModelTooLargeForTheHeapIsRefusedWithTheFigures() {
        Run r = run("train", "--layers", "40000,40000", "--device", "cpu", "--epochs", "1");
        oneLineError(r, 1, "training 784-40000-40000-10 (1,631,840,010 parameters, adam, batch 64) needs about 25.5 GiB "
                + "but cpu has", "-Xmx33g");
    }

    /** A model trained on a CSV split with --seed 7 is evaluated on the same test rows, not on training rows. */
    @Test
    void evaluateScoresOnTheSplitTheModelWasTrainedWith() throws Exception {
        StringBuilder csv = new StringBuilder("x1,x2,label\n");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int i = 0; i < 300; i++) {
            double a = rnd.nextDouble(-1, 1);
            double b = rnd.nextDouble(-1, 1);
            csv.append(a).append(',').append(b).append(',').append(a + 0.3 * b > 0 ? 1 : 0).append('\n');
        }
        Path data = dir.resolve("d.csv");
        Files.writeString(data, csv);
        Path model = dir.resolve("m.safetensors");
        Run train = run("train", "--csv", data.toString(), "--seed", "7", "--layers", "4", "--epochs", "2",
                "--device", "cpu", "--save", model.toString());
        assertEquals(0, train.code, train.err);
        Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(train.out);
        assertTrue(m.find(), train.out);
        Run eval = run("evaluate", "--model", model.toString(), "--csv", data.toString(), "--device", "cpu");
        assertEquals(0, eval.code, eval.err);
        assertTrue(eval.out.contains("accuracy " + m.group(1) + "%"), eval.out + "\n" + train.out);
        Run predict = run("predict", "--model", model.toString(), "--csv", data.toString(), "--image", "0",
                "--device", "cpu");
        assertEquals(0, predict.code, predict.err);
        assertTrue(predict.out.startsWith("features: ["), "a CSV row is not drawn as a digit: " + predict.out);
    }

    @Test
    void helpPrintsNoPicocliWarnings() {
        for (String cmd : new String[]{"train", "evaluate", "predict", "doctor"}) {
            Run r = run(cmd, "--help");
            assertEquals(0, r.code, r.err);
            assertFalse(r.err.contains("WARN") || r.out.contains("WARN"), cmd + ": " + r.err);
        }
        assertTrue(run("train", "--help").out.contains("80% train, 20% test"));
    }

    @Test
    void badOptionValuesAreUsageErrorsNamingTheOption() throws Exception {
        oneLineError(run("train", "--limit", "0"), 2, "--limit must be at least 1, got 0");
        oneLineError(run("train", "--limit", "-5"), 2, "--limit");
        oneLineError(run("train", "--lr", "Infinity"), 2, "--lr must be a positive finite number, got Infinity");
        oneLineError(run("train", "--epochs", "0"), 2, "--epochs");
        oneLineError(run("train", "--layers", "256,"), 2, "--layers: '256,' is not a list of positive sizes");
        oneLineError(run("train", "--label-column", "0"), 2, "--label-column applies to --csv");
        oneLineError(run("train", "--plot", dir.resolve("x.svg").toString()), 2, "x.svg", ".png, .jpg");
    }

    /** --lr 1e30 is a number, but the loss does not stay one: the run stops and saves nothing. */
    @Test
    void aLossThatIsNotFiniteStopsTrainingAndNothingIsSaved() {
        Path model = dir.resolve("nan.safetensors");
        Run r = run("train", "--lr", "1e30", "--optimizer", "sgd", "--limit", "640", "--epochs", "2", "--device", "cpu",
                "--save", model.toString());
        oneLineError(r, 1, "the loss became", "training stopped and nothing was saved");
        assertFalse(Files.exists(model));
    }

    @Test
    void outputPathsAreCheckedBeforeTraining() throws Exception {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        long start = System.nanoTime();
        oneLineError(run("train", "--epochs", "50", "--device", "cpu", "--save", file.resolve("m.safetensors").toString()),
                1, "--save", "a-file is a file, not a folder");
        oneLineError(run("train", "--epochs", "50", "--device", "cpu", "--plot", dir.toString() + "/sub/../" + "x.png",
                "--save", dir.toString()), 1, "--save " + dir, "a folder, not a regular file");
        if (Files.exists(Path.of("/dev/full"))) {
            oneLineError(run("train", "--epochs", "50", "--device", "cpu", "--save", "/dev/full"), 1,
                    "--save /dev/full: a special file");
        }
        assertTrue(System.nanoTime() - start < 20_000_000_000L, "refused before 50 epochs of training");
    }

    @Test
    void theChartIsWrittenInTheFormatOfItsExtension() throws Exception {
        Path jpg = dir.resolve("curves.jpg");
        Run r = run("train", "--epochs", "1", "--limit", "640", "--device", "cpu", "--plot", jpg.toString());
        assertEquals(0, r.code, r.err);
        byte[] b = Files.readAllBytes(jpg);
        assertEquals((byte) 0xFF, b[0]);
        assertEquals((byte) 0xD8, b[1], "a JPEG, not PNG bytes in a .jpg file");
    }

    @Test
    void csvFilesThatAreNotUtf8OrHaveHugeLabelsFailClearly() throws Exception {
        Path latin = dir.resolve("latin1.csv");
        Files.write(latin, "x,label\n1,0\n2,1\ncaf\u00e9,0\n".getBytes(StandardCharsets.ISO_8859_1));
        oneLineError(run("train", "--csv", latin.toString(), "--device", "cpu"), 1, "latin1.csv:4: not UTF-8 text");
        Path big = dir.resolve("big.csv");
        Files.writeString(big, "1,0\n2,2147483646\n3,1\n4,0\n5,1\n");
        oneLineError(run("train", "--csv", big.toString(), "--device", "cpu"), 1,
                "line 2, column 2: label '2147483646' is not a class index (an integer from 0 to 1048575)");
    }

    /** Standard error that is not a terminal gets plain lines (no carriage returns); checked in a child JVM. */
    @Test
    void progressIsPlainLinesOffATerminalAndFitsAnEightyColumnTerminal() throws Exception {
        String plain = child(Map.of(), "-D" + ProgressDisplay.TERMINAL + "=false");
        assertFalse(plain.contains("\r"), plain);
        assertTrue(plain.contains("epoch  1/1   50%"), plain);
        String tty = child(Map.of(), "-D" + ProgressDisplay.TERMINAL + "=true", "-D" + ProgressDisplay.COLUMNS + "=80");
        assertTrue(tty.contains("\r"), "a terminal gets a bar redrawn in place");
        for (String frame : tty.split("[\r\n]")) {
            assertTrue(frame.length() <= 80, frame.length() + " columns: " + frame);
            if (frame.startsWith("epoch") && frame.contains("loss")) {
                assertTrue(frame.matches(".*loss [0-9.]+  acc [0-9.]+%.*ETA [0-9-]+:[0-9-]{2}.*"),
                        "loss, accuracy and ETA kept at 80 columns: " + frame);
            }
        }
    }

    /** What a frame keeps as the terminal narrows: the bar goes first, the speed next, never the loss or the ETA. */
    @Test
    void aNarrowTerminalDropsTheBarFirstThenTheSpeed() {
        String extra = "loss 0.4123  acc 88.1%\u0000" + "9,000 samples/s";
        java.time.Duration t = java.time.Duration.ofSeconds(10);
        String wide = ProgressDisplay.render("epoch  1/10", 500, 1000, t, extra, 120);
        assertTrue(wide.matches("epoch  1/10  50% \\[=+ +\\] loss 0.4123  acc 88.1%  9,000 samples/s  ETA 0:10"),
                wide);
        assertEquals(119, ProgressDisplay.render("epoch  1/10", 500, 1000, t, extra, 119).length());
        String eighty = ProgressDisplay.render("epoch  1/10", 500, 1000, t, extra, 79);
        assertTrue(eighty.length() <= 79 && eighty.contains("samples/s") && eighty.contains("ETA 0:10"), eighty);
        String narrow = ProgressDisplay.render("epoch  1/10", 500, 1000, t, extra, 60);
        assertEquals("epoch  1/10  50%  loss 0.4123  acc 88.1%  ETA 0:10", narrow);
    }

    private String child(Map<String, String> env, String... props) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules",
                "jdk.incubator.vector"));
        cmd.addAll(java.util.List.of(props));
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "train",
                "--epochs", "1", "--limit", "4000", "--batch", "16", "--device", "cpu"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(env);
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        return err;
    }

    @Test
    void aModelSavedBeforeTheSplitSeedWasStoredStillLoads() throws Exception {
        Path model = dir.resolve("old.safetensors");
        Map<String, String> meta = Map.of(RunMetadata.LAYERS, "784,8,10", RunMetadata.ACTIVATION, "relu");
        Checkpoint.save(model, Mlp.of(784, 8, 10).build(), meta);
        Run r = run("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, r.code, r.err);
    }
}
