package dev.backprop4j.spark;

import dev.backprop4j.core.Device;
import dev.backprop4j.distributed.Collective;
import dev.backprop4j.distributed.InProcessCollective;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark ML estimator in local mode (two task slots, four attempts, on 127.0.0.1): fit on a DataFrame of two
 * uneven partitions trains each task on its own partition only and ends with the weights two ranks in one process
 * reach on the same partitions; the model scores with Spark's evaluator; a Pipeline with a VectorAssembler saves and
 * loads; a CrossValidator picks the better of two learning rates; a task failing mid-fit makes Spark run the stage
 * again, which resumes from the checkpoint and ends bit for bit where an unfailed fit ends; bad Params and bad rows
 * fail naming the Param or the row.
 */
class MlpClassifierTest {
    static final StructType SCHEMA = new StructType(new StructField[] {
        new StructField("features", new VectorUDT(), false, Metadata.empty()),
        new StructField("label", DataTypes.DoubleType, false, Metadata.empty())});

    private static SparkSession spark;

    @TempDir
    static Path dir;

    @BeforeAll
    static void startSpark() {
        spark = LocalSpark.start("local[2,4]", "backprop4j estimator test");
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** Three Gaussian blobs in 4 dimensions (the 4th is noise), the label the blob's index. */
    static List<Row> blobs(int n, long seed) {
        Random r = new Random(seed);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(3);
            rows.add(RowFactory.create(Vectors.dense(c + r.nextGaussian() * 0.5, c * c * 0.5 + r.nextGaussian() * 0.5,
                    -c + r.nextGaussian() * 0.5, r.nextGaussian()), (double) c));
        }
        return rows;
    }

    /**
     * A DataFrame of exactly two partitions, {@code first}'s rows and {@code second}'s, in their order (a range
     * partitioning on a column telling them apart, from one map task), cached.
     */
    private static Dataset<Row> twoPartitions(List<Row> first, List<Row> second) {
        List<Row> tagged = new ArrayList<>();
        first.forEach(r -> tagged.add(RowFactory.create(r.get(0), r.get(1), 0)));
        second.forEach(r -> tagged.add(RowFactory.create(r.get(0), r.get(1), 1)));
        StructType schema = SCHEMA.add("part", DataTypes.IntegerType);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Dataset<Row> df = spark.createDataFrame(jsc.parallelize(tagged, 1), schema)
                .repartitionByRange(2, functions.col("part")).drop("part").cache();
        List<List<Row>> parts = df.javaRDD().glom().collect();
        assertEquals(List.of(first.size(), second.size()), parts.stream().map(List::size).toList());
        assertEquals(first, parts.get(0));
        return df;
    }

    private static MlpClassifier classifier() {
        return new MlpClassifier().setLayers(new int[] {16}).setEpochs(4).setBatchSize(32).setLr(0.02)
                .setNumWorkers(2).setDevice("cpu").setSeed(7);
    }

    private static double accuracy(Dataset<Row> predictions) {
        return new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(predictions);
    }

    private static void assertSameState(Map<String, Object> a, Map<String, Object> b, double tolerance) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            float[] x = (float[]) a.get(k);
            float[] y = (float[]) b.get(k);
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], y[i], tolerance, k + "[" + i + "]");
            }
        }
    }

    /** Each rank of a job run in this process, on its own rows, as the barrier tasks do over the ring. */
    private static List<PartitionTraining.Result> inProcess(SparkTrainOptions.Job job, List<List<Row>> partitions)
            throws Exception {
        List<Collective> members = InProcessCollective.group(partitions.size());
        ExecutorService pool = Executors.newFixedThreadPool(partitions.size());
        try {
            List<Future<PartitionTraining.Result>> futures = new ArrayList<>();
            for (int r = 0; r < partitions.size(); r++) {
                int rank = r;
                futures.add(pool.submit(() -> PartitionTraining.run(job, partitions.get(rank).iterator(), false,
                        "MlpClassifier", members.get(rank), Device.CPU, 0)));
            }
            List<PartitionTraining.Result> out = new ArrayList<>();
            for (Future<PartitionTraining.Result> f : futures) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void fitTrainsEachTaskOnItsOwnPartitionAsRanksInOneProcessDo() throws Exception {
        List<Row> first = blobs(300, 1);
        List<Row> second = blobs(100, 2);
        Dataset<Row> df = twoPartitions(first, second);
        MlpClassificationModel model = classifier().fit(df);

        // no task read more than its partition: 300 rows and 100 rows, not 400 each
        assertArrayEquals(new int[] {300, 100}, model.rowsPerWorker());
        assertEquals("2 workers: rank 0 300 rows on cpu; rank 1 100 rows on cpu; 13 steps an epoch",
                model.trainingLog().get(0));
        assertTrue(model.trainingLog().stream().anyMatch(l -> l.startsWith("epoch  4/4")), model.trainingLog()
                .toString());

        SparkTrainOptions.Job job = classifier().job();
        job = job.with(job.spec().fittedTo(4, 3));
        List<PartitionTraining.Result> ranks = inProcess(job, List.of(first, second));
        assertSameState(ranks.get(0).state(), model.state(), 1e-5);

        double distributed = accuracy(model.transform(df));
        assertTrue(distributed > 0.85, "accuracy " + distributed);
        // one process on all 400 rows (other batches, so not the same weights): the same accuracy within 3 points
        List<Row> all = new ArrayList<>(first);
        all.addAll(second);
        PartitionTraining.Result one = inProcess(job, List.of(all)).get(0);
        MlpClassificationModel single = MlpClassificationModel.create("single", new TrainedMlp(job.spec(),
                one.state(), List.of(), new int[] {400}, Map.of()));
        double alone = accuracy(single.transform(df));
        assertEquals(alone, distributed, 0.03, "one process " + alone + ", two workers " + distributed);
    }

    /** Columns a, b, c, d and a label: a Pipeline's raw input. */
    private static Dataset<Row> columns(int n, long seed) {
        StructType schema = new StructType().add("a", DataTypes.DoubleType).add("b", DataTypes.DoubleType)
                .add("c", DataTypes.DoubleType).add("d", DataTypes.DoubleType).add("label", DataTypes.DoubleType);
        List<Row> rows = new ArrayList<>();
        for (Row r : blobs(n, seed)) {
            double[] v = ((org.apache.spark.ml.linalg.Vector) r.get(0)).toArray();
            rows.add(RowFactory.create(v[0], v[1], v[2], v[3], r.get(1)));
        }
        return spark.createDataFrame(rows, schema);
    }

    @Test
    void aPipelineWithTheEstimatorSavesAndLoadsAndScoresTheSame() throws Exception {
        Dataset<Row> df = columns(400, 3);
        VectorAssembler assembler = new VectorAssembler().setInputCols(new String[] {"a", "b", "c", "d"})
                .setOutputCol("features");
        MlpClassifier clf = classifier().setActivation("tanh").setOptimizer("adamw").setWeightDecay(0.001);
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {assembler, clf});
        PipelineModel fitted = pipeline.fit(df);
        String modelPath = dir.resolve("pipeline-model").toString();
        fitted.write().overwrite().save(modelPath);
        PipelineModel loaded = PipelineModel.load(modelPath);

        List<Row> before = fitted.transform(df).select("rawPrediction", "probability", "prediction").collectAsList();
        List<Row> after = loaded.transform(df).select("rawPrediction", "probability", "prediction").collectAsList();
        assertEquals(before, after);
        assertTrue(accuracy(loaded.transform(df)) > 0.85);
        MlpClassificationModel m = (MlpClassificationModel) loaded.stages()[1];
        assertEquals(fitted.stages()[1].uid(), m.uid());
        assertEquals("4-16-3", m.runSpec().layersText());
        assertTrue(java.nio.file.Files.exists(Path.of(modelPath, "stages", "1_" + m.uid(), "data",
                "model.safetensors")));

        // the unfitted pipeline round-trips with the estimator's Params
        String pipelinePath = dir.resolve("pipeline").toString();
        pipeline.write().overwrite().save(pipelinePath);
        MlpClassifier reloaded = (MlpClassifier) Pipeline.load(pipelinePath).getStages()[1];
        assertEquals(clf.uid(), reloaded.uid());
        assertEquals("tanh", reloaded.getActivation());
        assertEquals("adamw", reloaded.getOptimizer());
        assertEquals(0.001, reloaded.getWeightDecay());
        assertArrayEquals(new int[] {16}, reloaded.getLayers());
        assertEquals(2, reloaded.getNumWorkers());
        assertEquals(clf.job().spec().toString(), reloaded.job().spec().toString());
    }

    @Test
    void aCrossValidatorPicksTheBetterOfTwoLearningRates() {
        Dataset<Row> df = spark.createDataFrame(blobs(300, 4), SCHEMA);
        MlpClassifier clf = classifier().setEpochs(3).setOptimizer("sgd").setMomentum(0);
        ParamMap[] grid = new ParamGridBuilder().addGrid(clf.lr(), new double[] {1e-4, 0.1}).build();
        CrossValidatorModel cv = new CrossValidator().setEstimator(clf).setEstimatorParamMaps(grid).setNumFolds(2)
                .setEvaluator(new MulticlassClassificationEvaluator().setMetricName("accuracy")).setSeed(5).fit(df);
        double[] metrics = cv.avgMetrics();
        assertTrue(metrics[1] > metrics[0] + 0.1, java.util.Arrays.toString(metrics));
        MlpClassificationModel best = (MlpClassificationModel) cv.bestModel();
        assertEquals(0.1, best.runSpec().lr());
        assertEquals(0.1, ((MlpClassifier) best.parent()).getLr());
    }

    @Test
    void aTaskFailingMidFitMakesTheStageResumeFromTheCheckpoint() throws Exception {
        Dataset<Row> df = twoPartitions(blobs(300, 5), blobs(100, 6));
        MlpClassificationModel whole = classifier().fit(df);
        Path ckpt = dir.resolve("fit.ckpt.safetensors");
        MlpClassifier failing = classifier().setCheckpointPath(ckpt.toString());
        failing.failAt = "1:20"; // 13 steps an epoch: rank 1 fails in the second epoch, after the first checkpoint
        MlpClassificationModel resumed = failing.fit(df);
        assertTrue(resumed.trainingLog().stream().anyMatch(l -> l.startsWith("resumed from ") && l.contains(
                "after epoch 1")), resumed.trainingLog().toString());
        assertSameState(whole.state(), resumed.state(), 0);
        assertTrue(!java.nio.file.Files.exists(ckpt), "a finished fit deletes its checkpoint: the next would resume it");
    }

    @Test
    void wrongParamsFailOnTheDriverNamingTheParam() {
        Dataset<Row> df = spark.createDataFrame(blobs(50, 7), SCHEMA);
        Exception lr = assertThrows(IllegalArgumentException.class, () -> classifier().setLr(-1).fit(df));
        assertEquals("MlpClassifier: lr must be a positive finite number, got -1.0", lr.getMessage());
        Exception norm = assertThrows(IllegalArgumentException.class, () -> classifier().setNorm("batch").fit(df));
        assertTrue(norm.getMessage().startsWith("MlpClassifier: norm batch: each rank would normalise"),
                norm.getMessage());
        Exception width = assertThrows(IllegalArgumentException.class, () -> classifier().setWidth(32).fit(df));
        assertEquals("MlpClassifier: width applies to architecture resmlp; an mlp takes layers", width.getMessage());
        Exception workers = assertThrows(IllegalArgumentException.class,
                () -> classifier().setNumWorkers(3).fit(df));
        assertTrue(workers.getMessage().contains("needs 3 task slots at once"), workers.getMessage());
    }

    /** Spark checks the labels (whole numbers from 0); the tasks check each row's width. */
    @Test
    void aRowOfAnotherWidthFailsTheFitNamingItsPartitionAndRow() {
        List<Row> rows = blobs(40, 8);
        rows.set(7, RowFactory.create(Vectors.dense(1, 2, 3), 1.0));
        Dataset<Row> df = spark.createDataFrame(rows, SCHEMA).coalesce(1);
        Exception e = assertThrows(Exception.class, () -> classifier().setNumWorkers(1).fit(df));
        assertEquals("MlpClassifier.fit: the training stage failed: java.lang.IllegalArgumentException: "
                + "MlpClassifier.fit: partition 0, row 7: 3 features; the model takes 4 (the features column's "
                + "metadata or first row)",
                e.getMessage());
        rows.set(7, RowFactory.create(rows.get(8).get(0), 1.5));
        Exception label = assertThrows(Exception.class,
                () -> classifier().fit(spark.createDataFrame(rows, SCHEMA)));
        assertTrue(SparkTrain.rootCause(label).contains("Labels MUST be Integers, but got 1.5"),
                SparkTrain.rootCause(label));
    }

    @Test
    void aResidualMlpTrainsFromTheDataFrameToo() {
        Dataset<Row> df = spark.createDataFrame(blobs(200, 9), SCHEMA);
        MlpClassificationModel m = new MlpClassifier().setArchitecture("resmlp").setWidth(16).setBlocks(2)
                .setEpochs(3).setBatchSize(32).setLr(0.01).setNumWorkers(2).setDevice("cpu").fit(df);
        assertEquals("4-16x2-3", m.runSpec().layersText());
        assertTrue(accuracy(m.transform(df)) > 0.8);
    }

    /**
     * A worker whose partition is empty takes its steps with no rows, and the fit is what two ranks in one process
     * make of the same partitions.
     */
    @Test
    void anEmptyPartitionTakesEmptySteps() throws Exception {
        Dataset<Row> df = spark.createDataFrame(JavaSparkContext.fromSparkContext(spark.sparkContext())
                .parallelize(blobs(200, 10), 1), SCHEMA).repartition(2, functions.lit(1)).cache(); // all hash alike
        List<List<Row>> parts = df.javaRDD().glom().collect();
        assertTrue(parts.stream().anyMatch(List::isEmpty), "one partition is empty");
        MlpClassificationModel m = classifier().fit(df);
        assertArrayEquals(parts.stream().mapToInt(List::size).toArray(), m.rowsPerWorker());
        SparkTrainOptions.Job job = classifier().job();
        job = job.with(job.spec().fittedTo(4, 3));
        assertSameState(inProcess(job, parts).get(0).state(), m.state(), 1e-5);
    }
}
