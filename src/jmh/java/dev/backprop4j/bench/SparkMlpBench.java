package dev.backprop4j.bench;

import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.Mnist;
import dev.backprop4j.spark.LocalSpark;
import dev.backprop4j.spark.MlpClassificationModel;
import dev.backprop4j.spark.MlpClassifier;
import org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel;
import org.apache.spark.ml.classification.MultilayerPerceptronClassifier;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Our Spark ML estimator beside Spark's own MLP ({@code MultilayerPerceptronClassifier}) on the embedded MNIST digits
 * (8,000 train, 2,000 test), 784-256-128-10, under each Spark master of {@code --masters} (local[2] and
 * local-cluster[2,1,2048]: executors in JVMs of their own, started from a SPARK_HOME this fills with links to the
 * classpath's jars): Spark's (sigmoid hidden layers, which it forces, L-BFGS for {@code --epochs} iterations and for
 * its default 100) and ours, {@link MlpClassifier} on the same DataFrame in 2 barrier tasks, for {@code --epochs}
 * epochs with sigmoid and with ReLU (Adam, batch 64, cosine: the train command's defaults), both scored by Spark's
 * evaluator. Prints a Markdown table (test accuracy, wall time of the fit) and writes target/bench/spark.md.
 * Arguments: {@code --epochs N} (10), {@code --quick} (2 epochs, and Spark's MLP only for as many iterations),
 * {@code --masters M,M}, {@code --out DIR}.
 */
public final class SparkMlpBench {
    private SparkMlpBench() {
    }

    public static void main(String[] rawArgs) throws Exception {
        String[] args = BenchRunner.args(rawArgs);
        int epochs = 10;
        boolean quick = false;
        List<String> masters = List.of("local[2]", "local-cluster[2,1,2048]");
        Path out = Path.of("target", "bench");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--quick" -> {
                    quick = true;
                    epochs = 2;
                }
                case "--out" -> out = Path.of(args[++i]);
                case "--masters" -> masters = List.of(args[++i].split(",(?![^\\[]*\\])"));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (expected --epochs N, --quick, --masters M,M, --out DIR)");
            }
        }
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "Embedded MNIST (8,000 train, 2,000 test), "
                + "784-256-128-10, CPU %s, Java %s%n%n| Spark master | run | test accuracy | fit wall time |%n"
                + "|---|---|---|---|%n", BenchRunner.cpuModel(), System.getProperty("java.version")));
        for (String master : masters) {
            SparkSession spark = master.startsWith("local-cluster") ? cluster(master) : LocalSpark.start(master,
                    "backprop4j vs Spark MLP");
            try {
                Dataset.Split mnist = Mnist.embedded();
                org.apache.spark.sql.Dataset<Row> train = frame(spark, mnist.train()).cache();
                org.apache.spark.sql.Dataset<Row> test = frame(spark, mnist.test()).cache();
                train.count();
                test.count();
                String where = master + ", Spark " + spark.version();
                for (int iterations : quick ? new int[] {epochs} : new int[] {epochs, 100}) {
                    long t0 = System.nanoTime();
                    MultilayerPerceptronClassificationModel model = new MultilayerPerceptronClassifier()
                            .setLayers(new int[] {784, 256, 128, 10}).setMaxIter(iterations).setBlockSize(128)
                            .setSeed(42).fit(train);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    double accuracy = new MulticlassClassificationEvaluator().setMetricName("accuracy")
                            .evaluate(model.transform(test));
                    md.append(row(where, "Spark MultilayerPerceptronClassifier, sigmoid, L-BFGS " + iterations
                            + " iterations", 100 * accuracy, seconds));
                }
                for (String activation : new String[] {"sigmoid", "relu"}) {
                    long t0 = System.nanoTime();
                    MlpClassificationModel model = new MlpClassifier().setLayers(new int[] {256, 128})
                            .setActivation(activation).setEpochs(epochs).setNumWorkers(2).setDevice("cpu").fit(train);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    double accuracy = new MulticlassClassificationEvaluator().setMetricName("accuracy")
                            .evaluate(model.transform(test));
                    md.append(row(where, "backprop4j MlpClassifier, " + activation + ", Adam, " + epochs
                            + " epochs, 2 tasks", 100 * accuracy, seconds));
                }
            } finally {
                spark.stop();
            }
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("spark.md"), md);
        System.out.println();
        System.out.print(md);
    }

    private static String row(String master, String run, double accuracyPercent, double seconds) {
        return String.format(Locale.ROOT, "| %s | %s | %.2f%% | %.1f s |%n", master, run, accuracyPercent, seconds);
    }

    /**
     * A local-cluster session: a master and workers in this JVM, each executor its own JVM, started from
     * $SPARK_HOME/jars, which this fills with links to this JVM's classpath jars (the exec:exec@bench-spark execution
     * sets SPARK_HOME to target/bench/spark-home); the class folders go on the executors' extra classpath.
     */
    private static SparkSession cluster(String master) throws java.io.IOException {
        String home = System.getenv("SPARK_HOME");
        if (home == null) {
            throw new IllegalStateException("--masters " + master + " needs SPARK_HOME (exec:exec@bench-spark sets "
                    + "it)");
        }
        Path jars = Path.of(home, "jars");
        Files.createDirectories(jars);
        List<String> folders = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry).toAbsolutePath();
            if (Files.isDirectory(p)) {
                folders.add(p.toString());
            } else if (Files.isRegularFile(p) && !Files.exists(jars.resolve(p.getFileName()))) {
                Files.createSymbolicLink(jars.resolve(p.getFileName()), p);
            }
        }
        SparkSession spark = SparkSession.builder().master(master).appName("backprop4j vs Spark MLP")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .config("spark.executor.extraClassPath", String.join(java.io.File.pathSeparator, folders))
                .config("spark.executor.extraJavaOptions", "--add-modules jdk.incubator.vector")
                .getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        return spark;
    }

    /** The samples as rows of (label double, features vector), as Spark ML's estimators read them. */
    private static org.apache.spark.sql.Dataset<Row> frame(SparkSession spark, Dataset d) {
        List<Row> rows = new ArrayList<>(d.size());
        for (int i = 0; i < d.size(); i++) {
            float[] x = d.sample(i);
            double[] v = new double[x.length];
            for (int j = 0; j < v.length; j++) {
                v[j] = x[j];
            }
            rows.add(RowFactory.create((double) d.label(i), Vectors.dense(v)));
        }
        StructType schema = new StructType(new StructField[] {
            new StructField("label", DataTypes.DoubleType, false, Metadata.empty()),
            new StructField("features", new VectorUDT(), false, Metadata.empty())});
        return spark.createDataFrame(rows, schema).repartition(2);
    }
}
