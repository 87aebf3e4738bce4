package dev.backprop4j.spark;

import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.util.Locale;

/**
 * A fit in its own JVM, for {@link MlpClassifierGpuTest}: two workers in local[2] on the device of the first
 * argument; prints the fit's log and the training rows' accuracy.
 */
public final class EmulatedGpusFit {
    private EmulatedGpusFit() {
    }

    public static void main(String[] args) {
        SparkSession spark = LocalSpark.start("local[2]", "backprop4j emulated GPUs");
        try {
            Dataset<Row> df = spark.createDataFrame(MlpClassifierTest.blobs(200, 11), MlpClassifierTest.SCHEMA);
            MlpClassificationModel m = new MlpClassifier().setLayers(new int[] {16}).setEpochs(3).setBatchSize(32)
                    .setLr(0.02).setNumWorkers(2).setDevice(args[0]).setSeed(7).fit(df);
            m.trainingLog().forEach(System.out::println);
            double accuracy = new MulticlassClassificationEvaluator().setMetricName("accuracy")
                    .evaluate(m.transform(df));
            System.out.println(String.format(Locale.ROOT, "ACCURACY %.4f", accuracy));
        } finally {
            spark.stop();
        }
    }
}
