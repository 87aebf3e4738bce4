package dev.backprop4j.spark;

import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.RegressionEvaluator;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The regressor in local mode: two workers fit a noisy nonlinear target in the thousands (standardised for training,
 * predicted in its units) to near its noise, inside a Pipeline that saves and loads; labelSmoothing is refused.
 */
class MlpRegressorTest {
    private static SparkSession spark;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startSpark() {
        spark = LocalSpark.start("local[2]", "backprop4j regressor test");
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** y = 5000 + 800 a - 300 b + 400 a c + noise of sd 20, a, b, c standard normal. */
    private static Dataset<Row> table(int n, long seed) {
        Random r = new Random(seed);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double a = r.nextGaussian();
            double b = r.nextGaussian();
            double c = r.nextGaussian();
            rows.add(RowFactory.create(a, b, c, 5000 + 800 * a - 300 * b + 400 * a * c + 20 * r.nextGaussian()));
        }
        StructType schema = new StructType().add("a", DataTypes.DoubleType).add("b", DataTypes.DoubleType)
                .add("c", DataTypes.DoubleType).add("y", DataTypes.DoubleType);
        return spark.createDataFrame(rows, schema);
    }

    @Test
    void twoWorkersFitATargetInItsUnitsAndThePipelineSavesAndLoads() throws Exception {
        Dataset<Row> train = table(1200, 1);
        Dataset<Row> test = table(300, 2);
        MlpRegressor reg = new MlpRegressor().setLayers(new int[] {64, 64}).setEpochs(30).setBatchSize(32)
                .setLr(0.003).setNumWorkers(2).setDevice("cpu").setLabelCol("y");
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {new VectorAssembler()
            .setInputCols(new String[] {"a", "b", "c"}).setOutputCol("features"), reg});
        PipelineModel fitted = pipeline.fit(train);
        MlpRegressionModel model = (MlpRegressionModel) fitted.stages()[1];
        assertEquals(1200, model.rowsPerWorker()[0] + model.rowsPerWorker()[1]);
        assertEquals(5000, model.targetMean(), 80);
        assertEquals("3-64-64-1", model.runSpec().layersText());
        double rmse = new RegressionEvaluator().setLabelCol("y").setMetricName("rmse").evaluate(fitted.transform(test));
        // the target's own deviation is about 950; a linear fit leaves the a*c term's 400
        assertTrue(rmse < 150, "test RMSE " + rmse + "; the log: " + model.trainingLog());

        String path = dir.resolve("regression-pipeline").toString();
        fitted.write().overwrite().save(path);
        PipelineModel loaded = PipelineModel.load(path);
        MlpRegressionModel back = (MlpRegressionModel) loaded.stages()[1];
        assertEquals(model.targetMean(), back.targetMean());
        assertEquals(model.targetStd(), back.targetStd());
        List<Row> before = fitted.transform(test).select("prediction").collectAsList();
        List<Row> after = loaded.transform(test).select("prediction").collectAsList();
        assertEquals(before, after);
        assertArrayEquals(new int[0], back.rowsPerWorker());
    }

    @Test
    void labelSmoothingIsRefusedByName() {
        Exception e = assertThrows(IllegalArgumentException.class, () -> new MlpRegressor().setLabelSmoothing(0.1)
                .setNumWorkers(1).setLabelCol("y").fit(new VectorAssembler().setInputCols(new String[] {"a"})
                        .setOutputCol("features").transform(table(10, 3))));
        assertEquals("MlpRegressor: labelSmoothing applies to classes, not to a regressor", e.getMessage());
    }
}
