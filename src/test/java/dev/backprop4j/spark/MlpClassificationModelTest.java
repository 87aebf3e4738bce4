package dev.backprop4j.spark;

import dev.backprop4j.cli.Main;
import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Evaluation;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model file as a Spark ML model: transform adds rawPrediction, probability and prediction to a DataFrame of
 * feature vectors, the same predictions the library makes, scored by Spark's own evaluator.
 */
class MlpClassificationModelTest {
    private static SparkSession spark;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startSpark() {
        spark = LocalSpark.start("local[2]", "backprop4j model test");
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    @Test
    void aTrainedModelScoresADataFrameAsTheLibraryDoes() throws Exception {
        Path csv = dir.resolve("blobs.csv");
        Random r = new Random(2);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 600; i++) {
            int c = i % 3;
            sb.append(c + r.nextGaussian() * 0.6).append(',').append(c * c * 0.5 + r.nextGaussian() * 0.6).append(',')
                    .append(r.nextGaussian()).append(',').append(c).append('\n');
        }
        Files.writeString(csv, sb);
        Path model = dir.resolve("blobs.safetensors");
        StringWriter out = new StringWriter();
        int code = Main.execute(new String[] {"train", "--csv", csv.toString(), "--layers", "16", "--epochs", "10",
            "--lr", "0.01", "--device", "cpu", "--save", model.toString()}, new PrintWriter(out), new PrintWriter(out));
        assertEquals(0, code, out.toString());

        RunSpec spec = RunMetadata.read(Safetensors.header(model).metadata(), model);
        Dataset test = DataSource.csv(csv, -1).load(spec.seed()).test();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < test.size(); i++) {
            float[] x = test.sample(i);
            rows.add(RowFactory.create((double) test.label(i), Vectors.dense(x[0], x[1], x[2])));
        }
        StructType schema = new StructType(new StructField[] {
            new StructField("label", DataTypes.DoubleType, false, Metadata.empty()),
            new StructField("features", new VectorUDT(), false, Metadata.empty())});
        org.apache.spark.sql.Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2);

        MlpClassificationModel m = MlpClassificationModel.fromFile(model);
        assertEquals(3, m.numClasses());
        assertEquals(3, m.numFeatures());
        org.apache.spark.sql.Dataset<Row> scored = m.transform(df);
        assertTrue(List.of(scored.columns()).containsAll(List.of("rawPrediction", "probability", "prediction")));
        double sparkAccuracy = new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(scored);

        try (Sequential net = spec.newModel(Device.CPU); GradMode.Guard off = GradMode.noGrad()) {
            dev.backprop4j.io.Checkpoint.load(model, net);
            Evaluation ours = Evaluation.of(net, new dev.backprop4j.data.DataLoader(test, 1000, false, 0, false,
                    Device.CPU));
            assertEquals(ours.accuracy(), sparkAccuracy, 1e-12, "Spark's evaluator on our predictions");
            assertTrue(sparkAccuracy > 0.6, "it learnt (a third is chance): " + sparkAccuracy);
            Row first = scored.orderBy("label").first();
            org.apache.spark.ml.linalg.Vector f = first.getAs("features");
            float[] logits = net.forward(Tensor.of(new float[] {(float) f.apply(0), (float) f.apply(1),
                (float) f.apply(2)}, 1, 3)).toFloatArray();
            org.apache.spark.ml.linalg.Vector raw = first.getAs("rawPrediction");
            for (int k = 0; k < 3; k++) {
                assertEquals(logits[k], raw.apply(k), 0, "the logits, as the library computes them");
            }
            org.apache.spark.ml.linalg.Vector p = first.getAs("probability");
            assertEquals(1, p.apply(0) + p.apply(1) + p.apply(2), 1e-12);
        }

        Row wide = RowFactory.create(0.0, Vectors.dense(1, 2, 3, 4));
        Exception e = assertThrows(Exception.class, () -> m.transform(spark.createDataFrame(List.of(wide), schema))
                .collect());
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        assertTrue(root.getMessage().contains("a row of 4 features, expected 3"), root.getMessage());
    }
}
