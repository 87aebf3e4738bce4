package dev.backprop4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line end to end: a short training run on the embedded digits, saving, evaluating, predicting, and errors. */
class CommandLineTest {
    @TempDir
    Path dir;

    @Test
    void oneEpochOnTheEmbeddedDigitsReachesNinetyPercentThenEvaluateAndPredict() throws Exception {
        Path model = dir.resolve("mnist.safetensors");
        Path chart = dir.resolve("curves.png");
        CliRun r = CliRun.of("train", "--epochs", "1", "--device", "cpu", "--save", model.toString(), "--plot", chart.toString());
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(r.out());
        assertTrue(m.find(), r.out());
        double accuracy = Double.parseDouble(m.group(1));
        assertTrue(accuracy >= 90.0, "one epoch reached only " + accuracy + "%:\n" + r.out());
        assertTrue(Files.size(model) > 900_000);
        byte[] png = Files.readAllBytes(chart);
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);

        CliRun eval = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains(String.format(java.util.Locale.ROOT, "accuracy %.2f%%", accuracy)), eval.out() + r.out());

        CliRun predict = CliRun.of("predict", "--model", model.toString(), "--image", "0");
        assertEquals(0, predict.code(), predict.err());
        assertTrue(predict.out().matches("(?s).*image 0: predicted \\d with probability [0-9.]+% \\(label \\d\\).*"), predict.out());
        assertTrue(predict.out().contains("@@"), "digit drawn as text:\n" + predict.out());
    }

    /** --model resmlp trains, saves, evaluates from its file alone, and refuses the other family's options. */
    @Test
    void aResidualMlpTrainsSavesAndEvaluates() throws Exception {
        Path model = dir.resolve("resmlp.safetensors");
        CliRun r = CliRun.of("train", "--model", "resmlp", "--width", "32", "--blocks", "2", "--norm", "batch",
                "--epochs", "2", "--limit", "1000", "--device", "cpu", "--save", model.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("training 784-32x2-10 gelu on embedded MNIST"), r.out());
        Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(r.out());
        assertTrue(m.find() && Double.parseDouble(m.group(1)) >= 60, r.out()); // 77% here, from 1,000 rows
        CliRun eval = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("accuracy " + m.group(1) + "%"), eval.out() + r.out());

        CliRun layers = CliRun.of("train", "--model", "resmlp", "--layers", "64");
        assertEquals(2, layers.code());
        assertOneLineError(layers.err(), "--layers applies to --model mlp");
        CliRun width = CliRun.of("train", "--width", "64");
        assertEquals(2, width.code());
        assertOneLineError(width.err(), "--width applies to --model resmlp");
        CliRun norm = CliRun.of("train", "--model", "resmlp", "--norm", "group");
        assertEquals(2, norm.code());
        assertOneLineError(norm.err(), "--norm must be one of [layer, batch, none], got 'group'");
    }

    /** A validation split with patience stops early and keeps the best epoch; resuming such a run is refused. */
    @Test
    void earlyStoppingOnAValidationSplitKeepsTheBestEpoch() throws Exception {
        Path ckpt = dir.resolve("es.safetensors");
        CliRun r = CliRun.of("train", "--val-fraction", "0.2", "--patience", "1", "--lr", "0.05", "--epochs", "8",
                "--limit", "1000", "--accumulate", "2", "--label-smoothing", "0.1", "--device", "cpu",
                "--warmup", "10", "--optimizer", "adamw", "--decay", "matrices", "--checkpoint", ckpt.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(800 train / 2,000 test samples)") && r.out().contains("val loss"), r.out());
        Matcher kept = Pattern.compile("kept the weights of epoch (\\d+) \\(validation loss [0-9.]+\\): test loss "
                + "[0-9.]+ acc +([0-9.]+)%").matcher(r.out());
        assertTrue(kept.find(), r.out());
        assertTrue(r.out().contains("done: test accuracy " + kept.group(2) + "%"), r.out());
        CliRun resumed = CliRun.of("train", "--val-fraction", "0.2", "--patience", "1", "--lr", "0.05", "--epochs",
                "9", "--limit", "1000", "--accumulate", "2", "--label-smoothing", "0.1", "--device", "cpu",
                "--warmup", "10", "--optimizer", "adamw", "--decay", "matrices", "--resume", ckpt.toString());
        assertEquals(2, resumed.code());
        assertOneLineError(resumed.err(), "--resume with --patience");
        CliRun alone = CliRun.of("train", "--patience", "3");
        assertEquals(2, alone.code());
        assertOneLineError(alone.err(), "--patience needs a validation split");
        CliRun longWarmup = CliRun.of("train", "--warmup", "20", "--epochs", "1", "--limit", "640", "--device", "cpu");
        assertEquals(2, longWarmup.code());
        assertOneLineError(longWarmup.err(), "--warmup 20 must be shorter than the run's 10 steps");
        assertFalse(longWarmup.out().contains("training"), "refused before it starts");
        CliRun decay = CliRun.of("train", "--decay", "bias", "--device", "cpu");
        assertEquals(2, decay.code());
        assertOneLineError(decay.err(), "--decay must be all or matrices, got 'bias'");
    }

    @Test
    void trainsOnACsvFile() throws Exception {
        StringBuilder csv = new StringBuilder("x1,x2,label\n");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        for (int i = 0; i < 400; i++) {
            double a = rnd.nextDouble(-1, 1);
            double b = rnd.nextDouble(-1, 1);
            csv.append(a).append(',').append(b).append(',').append(a * b > 0 ? 1 : 0).append('\n');
        }
        Path f = dir.resolve("xor.csv");
        Files.writeString(f, csv);
        Path model = dir.resolve("xor.safetensors");
        CliRun r = CliRun.of("train", "--csv", f.toString(), "--layers", "16,16", "--epochs", "30", "--lr", "0.01",
                "--batch", "32", "--device", "cpu", "--save", model.toString());
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(r.out());
        assertTrue(m.find() && Double.parseDouble(m.group(1)) >= 90, r.out());
        // the model file holds its run: evaluate finds the CSV, its label column and its split without being told
        CliRun eval = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("on " + f + ": ") && eval.out().contains("accuracy " + m.group(1) + "%"),
                eval.out() + r.out());
        Files.move(f, dir.resolve("moved.csv"));
        CliRun gone = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(2, gone.code(), gone.err());
        assertOneLineError(gone.err(), "the model " + model + " was trained on " + f);
    }

    @Test
    void trainsOnATableWithCategoricalColumnsThenEvaluatesAndPredictsNewRows() throws Exception {
        String[] colours = {"red", "green", "blue"};
        StringBuilder csv = new StringBuilder("x,colour,answer\n");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int i = 0; i < 600; i++) {
            double x = rnd.nextDouble(-1, 1);
            String c = colours[rnd.nextInt(3)];
            csv.append(x).append(',').append(c).append(',').append((x > 0) == c.equals("green") ? "yes" : "no")
                    .append('\n');
        }
        Path f = dir.resolve("table.csv");
        Files.writeString(f, csv);
        Path model = dir.resolve("table.safetensors");
        CliRun r = CliRun.of("train", "--csv", f.toString(), "--categorical", "colour", "--layers", "16",
                "--epochs", "20", "--lr", "0.01", "--batch", "32", "--device", "cpu", "--save", model.toString());
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(r.out());
        assertTrue(m.find() && Double.parseDouble(m.group(1)) >= 90, r.out());
        CliRun eval = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("accuracy " + m.group(1) + "%"), eval.out() + r.out());

        // new rows: the model's encoding reads them (no --categorical needed), an unseen colour as the unknown code
        Path fresh = dir.resolve("fresh.csv");
        Files.writeString(fresh, "x,colour,answer\n0.5,green,yes\n-0.5,green,no\n0.5,purple,no\n0.5,red,no\n"
                + "-0.5,blue,yes\n");
        CliRun p = CliRun.of("predict", "--model", model.toString(), "--csv", fresh.toString(), "--row", "0",
                "--device", "cpu");
        assertEquals(0, p.code(), p.err());
        assertTrue(p.out().matches("(?s)x=-?0\\.5, colour=(green|red|blue|\\?)\\R"
                + "row 0: predicted '(yes|no)' with probability .*% \\(label '(yes|no)'\\)\\R"), p.out());
        CliRun wrong = CliRun.of("evaluate", "--model", model.toString(), "--csv", f.toString(), "--label-column", "1",
                "--device", "cpu");
        assertEquals(1, wrong.code(), wrong.err());
        assertOneLineError(wrong.err(), "(label 2) are not the [x, colour, answer] (label 3) the model was trained on");
    }

    /** --task regress: a table's number column predicted, scored by RMSE in its units, near the noise's deviation. */
    @Test
    void regressesANumberColumnOfATable() throws Exception {
        StringBuilder csv = new StringBuilder("x,colour,y\n");
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        String[] colours = {"red", "green", "blue"};
        for (int i = 0; i < 800; i++) {
            double x = rnd.nextDouble(-2, 2);
            int c = rnd.nextInt(3);
            double noise = 0.5 * (rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() - 1.5) * 2; // sd 0.5
            csv.append(x).append(',').append(colours[c]).append(',').append(100 + 3 * x + 5 * c + noise).append('\n');
        }
        Path f = dir.resolve("reg.csv");
        Files.writeString(f, csv);
        Path model = dir.resolve("reg.safetensors");
        CliRun r = CliRun.of("train", "--csv", f.toString(), "--task", "regress", "--categorical", "colour",
                "--layers", "32", "--epochs", "20", "--lr", "0.01", "--batch", "32", "--device", "cpu", "--save",
                model.toString());
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("done: test RMSE ([0-9.]+) after").matcher(r.out());
        assertTrue(m.find() && Double.parseDouble(m.group(1)) < 0.8, "near the noise's 0.5: " + r.out());
        assertTrue(r.out().contains("-1 relu") && r.out().contains("rmse"), "one output, scored by RMSE: " + r.out());
        CliRun eval = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(0, eval.code(), eval.err());
        assertTrue(eval.out().contains("(regression)") && eval.out().contains("RMSE " + m.group(1)), eval.out());
        CliRun p = CliRun.of("predict", "--model", model.toString(), "--row", "1", "--device", "cpu");
        assertEquals(0, p.code(), p.err());
        Matcher row = Pattern.compile("row 1: predicted ([0-9.]+) \\(target ([0-9.]+)\\)").matcher(p.out());
        assertTrue(row.find() && Math.abs(Double.parseDouble(row.group(1)) - Double.parseDouble(row.group(2))) < 3,
                p.out());

        CliRun noCsv = CliRun.of("train", "--task", "regress");
        assertEquals(2, noCsv.code());
        assertOneLineError(noCsv.err(), "--task regress applies to --csv");
        CliRun task = CliRun.of("train", "--csv", f.toString(), "--task", "predict");
        assertEquals(2, task.code());
        assertOneLineError(task.err(), "--task must be classify or regress, got 'predict'");
        CliRun smooth = CliRun.of("train", "--csv", f.toString(), "--task", "regress", "--label-smoothing", "0.1");
        assertEquals(2, smooth.code());
        assertOneLineError(smooth.err(), "--label-smoothing applies to classes");
    }

    /** --precision bf16 and tf32 train the default model as far as float32 does on a short run, and are remembered. */
    @Test
    void bfloat16AndTf32TrainAsFarAsFloat32() throws Exception {
        double[] acc = new double[3];
        String[] precisions = {"fp32", "bf16", "tf32"};
        for (int i = 0; i < 3; i++) {
            Path model = dir.resolve(precisions[i] + ".safetensors");
            CliRun r = CliRun.of("train", "--precision", precisions[i], "--limit", "2000", "--epochs", "3",
                    "--device", "cpu", "--save", model.toString());
            assertEquals(0, r.code(), r.err());
            Matcher m = Pattern.compile("done: test accuracy ([0-9.]+)%").matcher(r.out());
            assertTrue(m.find(), r.out());
            acc[i] = Double.parseDouble(m.group(1));
            assertEquals(precisions[i], dev.backprop4j.io.Safetensors.header(model).metadata()
                    .get("backprop4j.run.precision"));
        }
        assertTrue(acc[0] > 85 && Math.abs(acc[0] - acc[1]) <= 0.5 && Math.abs(acc[0] - acc[2]) <= 0.5,
                "fp32 " + acc[0] + "%, bf16 " + acc[1] + "%, tf32 " + acc[2] + "%");
        CliRun bad = CliRun.of("train", "--precision", "fp16");
        assertEquals(2, bad.code());
        assertOneLineError(bad.err(), "--precision must be fp32, tf32 or bf16, got 'fp16'");
    }

    @Test
    void badInputEndsWithOneLineAndANonZeroCode() throws Exception {
        CliRun unknown = CliRun.of("train", "--bogus");
        assertEquals(2, unknown.code());
        assertOneLineError(unknown.err(), "Unknown option: '--bogus'");

        CliRun missing = CliRun.of("train", "--data", dir.resolve("nowhere").toString(), "--device", "cpu");
        assertEquals(1, missing.code());
        assertOneLineError(missing.err(), "nowhere");

        Path badMagic = dir.resolve("mnist");
        Files.createDirectories(badMagic);
        for (String n : new String[]{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte"}) {
            Files.write(badMagic.resolve(n), new byte[]{0, 0, 8, 9, 0, 0, 0, 0});
        }
        CliRun magic = CliRun.of("train", "--data", badMagic.toString(), "--device", "cpu");
        assertEquals(1, magic.code());
        assertOneLineError(magic.err(), "magic number");

        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, "1,2,0\n1,oops,1\n");
        CliRun cell = CliRun.of("train", "--csv", csv.toString(), "--device", "cpu");
        assertEquals(1, cell.code());
        assertOneLineError(cell.err(), "line 2, column 2");

        Path model = dir.resolve("small.safetensors");
        dev.backprop4j.io.Checkpoint.save(model, dev.backprop4j.nn.Mlp.of(784, 8, 10).build(),
                java.util.Map.of(dev.backprop4j.train.RunMetadata.LAYERS, "784,16,10",
                        dev.backprop4j.train.RunMetadata.ACTIVATION, "relu"));
        byte[] before = Files.readAllBytes(model);
        CliRun misfit = CliRun.of("evaluate", "--model", model.toString(), "--device", "cpu");
        assertEquals(1, misfit.code());
        assertOneLineError(misfit.err(), "does not fit the model");
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(model)));

        dev.backprop4j.nn.Sequential diverged = dev.backprop4j.nn.Mlp.of(784, 16, 10).build();
        float[] w = diverged.parameters().get(0).toFloatArray();
        w[5] = Float.NaN;
        diverged.parameters().get(0).copyFrom(w);
        Path nan = dir.resolve("nan.safetensors");
        dev.backprop4j.io.Checkpoint.save(nan, diverged, java.util.Map.of(dev.backprop4j.train.RunMetadata.LAYERS,
                "784,16,10", dev.backprop4j.train.RunMetadata.ACTIVATION, "relu"));
        for (String command : new String[] {"evaluate", "predict"}) {
            CliRun r = command.equals("evaluate") ? CliRun.of("evaluate", "--model", nan.toString(), "--device", "cpu")
                    : CliRun.of("predict", "--model", nan.toString(), "--image", "0", "--device", "cpu");
            assertEquals(1, r.code(), r.err());
            assertOneLineError(r.err(), "tensor '0.weight' holds 1 NaN or infinite value (the first at element 5");
        }

        if (!dev.backprop4j.backend.cuda.Cuda.isAvailable()) {
            CliRun cuda = CliRun.of("train", "--device", "cuda", "--epochs", "1");
            assertEquals(1, cuda.code());
            assertOneLineError(cuda.err(), "CUDA unavailable: ");
        }

        CliRun verbose = CliRun.of("train", "--data", dir.resolve("nowhere").toString(), "--device", "cpu", "--verbose");
        assertTrue(verbose.err().contains("\tat "), "--verbose prints the stack trace");
    }

    private static void assertOneLineError(String err, String part) {
        assertTrue(err.startsWith("error: ") && err.contains(part), err);
        assertEquals(1, err.strip().lines().count(), err);
        assertFalse(err.contains("\tat "), err);
    }
}
