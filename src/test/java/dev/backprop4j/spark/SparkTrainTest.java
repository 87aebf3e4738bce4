package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.distributed.InProcessCollective;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.tensor.Tensor;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spark in local mode with two barrier tasks (bound to 127.0.0.1, no UI): data-parallel training over the ring
 * matches one process, and a task failing mid-run makes Spark start the stage again, which resumes from the last
 * checkpoint and ends with exactly the parameters of a run that never failed.
 */
class SparkTrainTest {
    private static SparkSession spark;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startSpark() {
        spark = LocalSpark.start("local[2,4]", "backprop4j test");
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** A CSV of 8 features and 3 classes, 700 rows: 560 train (17.5 batches of 32), 140 test. */
    private static Path csv() throws Exception {
        Path f = dir.resolve("data.csv");
        if (!Files.exists(f)) {
            Random random = new Random(4);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 700; i++) {
                double[] v = new double[8];
                for (int j = 0; j < 8; j++) {
                    v[j] = random.nextGaussian();
                    sb.append(String.format(Locale.ROOT, "%.5f,", v[j]));
                }
                sb.append(v[0] + v[1] > 0 ? (v[2] > 0 ? 2 : 1) : 0).append('\n');
            }
            Files.writeString(f, sb);
        }
        return f;
    }

    private static SparkTrainOptions options(String... args) throws Exception {
        SparkTrainOptions o = new SparkTrainOptions();
        List<String> all = new java.util.ArrayList<>(List.of("--csv", csv().toString(), "--layers", "16", "--epochs",
                "3", "--batch", "32", "--optimizer", "sgd", "--lr", "0.05", "--check-every", "5"));
        all.addAll(List.of(args));
        new CommandLine(o).setOverwrittenOptionsAllowed(true).parseArgs(all.toArray(new String[0]));
        return o;
    }

    private static Map<String, Tensor> saved(Path f) throws Exception {
        return Safetensors.read(f).tensors();
    }

    @Test
    void twoBarrierTasksTrainAsOneProcessDoes() throws Exception {
        Path two = dir.resolve("two.safetensors");
        Path one = dir.resolve("one.safetensors");
        List<String> report = SparkTrain.run(spark, options("--workers", "2", "--save", two.toString()));
        assertTrue(report.stream().anyMatch(l -> l.startsWith("epoch  3/3") && l.contains("2 ranks")), report.toString());
        assertTrue(report.stream().anyMatch(l -> l.startsWith("done: test accuracy")), report.toString());
        RankTraining.run(options("--save", one.toString()).job(), InProcessCollective.group(1).get(0), Device.CPU, 0);
        Map<String, Tensor> a = saved(one);
        Map<String, Tensor> b = saved(two);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            float[] x = a.get(k).toFloatArray();
            float[] y = b.get(k).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], y[i], 1e-5, k + "[" + i + "]");
            }
        }
    }

    @Test
    void aBatchSmallerThanTheRanksIsRefusedBeforeAnyTaskStarts() throws Exception {
        SparkTrainOptions o = options("--workers", "2", "--batch", "1");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, o));
        assertTrue(e.getMessage().contains("--batch >= --workers"), e.getMessage());
    }

    @Test
    void aFailedTaskMakesTheStageRestartFromTheLastCheckpoint() throws Exception {
        Path whole = dir.resolve("whole.safetensors");
        Path resumed = dir.resolve("resumed.safetensors");
        Path ckpt = dir.resolve("run.ckpt.safetensors");
        SparkTrain.run(spark, options("--workers", "2", "--save", whole.toString()));
        // 18 steps an epoch: rank 1 fails in the second epoch, after the first checkpoint
        List<String> report = SparkTrain.run(spark, options("--workers", "2", "--checkpoint", ckpt.toString(),
                "--save", resumed.toString(), "--fail-at", "1:25"));
        assertTrue(report.stream().anyMatch(l -> l.startsWith("resumed from " + ckpt + " after epoch 1")),
                report.toString());
        Map<String, Tensor> a = saved(whole);
        Map<String, Tensor> b = saved(resumed);
        for (String k : a.keySet()) {
            assertArrayEquals(a.get(k).toFloatArray(), b.get(k).toFloatArray(), k);
        }
    }

    /** A barrier stage that cannot be scheduled fails in seconds, naming --workers and the slots there are. */
    @Test
    void moreWorkersThanSlotsFailAtOnce() throws Exception {
        long start = System.nanoTime();
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, options("--workers", "3")));
        assertTrue(e.getMessage().startsWith("--workers 3 needs 3 task slots at once") && e.getMessage().contains(
                "offers 2"), e.getMessage());
        assertTrue((System.nanoTime() - start) / 1e9 < 20, "it took " + (System.nanoTime() - start) / 1e9 + " s");
    }

    /** A failed stage is reported by its innermost cause's first line, not Spark's wrapper and stack trace. */
    @Test
    void aFailedStageIsReportedByItsRootCause() {
        Exception stage = new RuntimeException("Job aborted due to stage failure: Task 1 failed 4 times",
                new IllegalStateException("rank 1: ring peer 127.0.0.1:4001 closed the connection\n\tat ..."));
        assertEquals("rank 1: ring peer 127.0.0.1:4001 closed the connection", SparkTrain.rootCause(stage));
    }

    /** Mistakes no retry can mend fail on the driver before the stage starts, naming the option. */
    @Test
    void permanentMistakesFailOnTheDriverBeforeTheStage() throws Exception {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "not a folder");
        Exception save = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, options("--workers", "2", "--save", file.resolve("m.safetensors")
                        .toString())));
        assertTrue(save.getMessage().contains("--save") && save.getMessage().contains("is a file, not a folder"),
                save.getMessage());
        SparkTrainOptions missing = new SparkTrainOptions();
        new CommandLine(missing).parseArgs("--csv", dir.resolve("nowhere.csv").toString(), "--workers", "2");
        Exception data = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, missing));
        assertTrue(data.getMessage().contains("nowhere.csv: no such readable file"), data.getMessage());
        SparkTrainOptions early = new SparkTrainOptions();
        new CommandLine(early).parseArgs("--val-fraction", "0.1", "--patience", "2");
        Exception stopping = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, early::job);
        assertTrue(stopping.getMessage().contains("early stopping runs in the train command"), stopping.getMessage());
        SparkTrainOptions batchNorm = new SparkTrainOptions();
        new CommandLine(batchNorm).parseArgs("--model", "resmlp", "--norm", "batch");
        Exception bn = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, batchNorm::job);
        assertTrue(bn.getMessage().startsWith("--norm batch"), bn.getMessage());
        Path halfMnist = Files.createDirectories(dir.resolve("half-mnist"));
        Files.writeString(halfMnist.resolve("train-images-idx3-ubyte"), "");
        SparkTrainOptions incomplete = new SparkTrainOptions();
        new CommandLine(incomplete).parseArgs("--data", halfMnist.toString(), "--workers", "2");
        Exception mnist = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, incomplete));
        assertTrue(mnist.getMessage().contains("train-labels-idx1-ubyte.gz (nor train-labels-idx1-ubyte) is missing "
                + "here on the driver"), mnist.getMessage());
        Path other = dir.resolve("other-run.safetensors");
        SparkTrain.run(spark, options("--workers", "2", "--epochs", "1", "--checkpoint", other.toString()));
        Exception ckpt = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkTrain.run(spark, options("--workers", "2", "--lr", "0.1", "--checkpoint",
                        other.toString())));
        assertTrue(ckpt.getMessage().contains("belongs to another run") && ckpt.getMessage().contains("--lr 0.05"),
                ckpt.getMessage());
    }

    /**
     * Rank 0 failing at the save makes the other rank fail with it (they wait for the save), so Spark restarts the
     * whole stage at once, which resumes from the checkpoint and saves: no rank is left waiting for its partner.
     */
    @Test
    void aRankFailingAtTheSaveEndsTheStageAndTheRetrySaves() throws Exception {
        Path ckpt = dir.resolve("save-fail.ckpt.safetensors");
        Path model = dir.resolve("save-fail.safetensors");
        long start = System.nanoTime();
        List<String> report = SparkTrain.run(spark, options("--workers", "2", "--epochs", "2", "--checkpoint",
                ckpt.toString(), "--save", model.toString(), "--fail-at", "0:save"));
        assertTrue(report.stream().anyMatch(l -> l.startsWith("resumed from " + ckpt + " after epoch 2")),
                report.toString());
        assertTrue(Files.exists(model));
        assertTrue((System.nanoTime() - start) / 1e9 < 60, "it took " + (System.nanoTime() - start) / 1e9 + " s");
    }
}
