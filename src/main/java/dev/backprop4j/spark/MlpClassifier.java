package dev.backprop4j.spark;

import dev.backprop4j.io.AtomicFile;
import dev.backprop4j.train.RunSpec;
import org.apache.spark.Dependency;
import org.apache.spark.NarrowDependency;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DatasetUtils$;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import picocli.CommandLine;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A backprop4j MLP classifier as a Spark ML estimator: {@code new MlpClassifier().setLayers(256, 128).setEpochs(10)
 * .fit(df)} trains on a DataFrame's features vector column and label column (class indices 0, 1, ...; Spark's
 * {@code featuresCol} and {@code labelCol}) and returns an {@link MlpClassificationModel}, whose {@code transform}
 * adds {@code rawPrediction}, {@code probability} and {@code prediction}; it works inside a {@code Pipeline}, under a
 * {@code CrossValidator}, and saves and loads with Spark ML's writers.
 *
 * <p>The Params are the {@code train} command's options under Spark's names ({@code lr} is {@code --lr}, {@code
 * batchSize} {@code --batch}, {@code architecture} {@code --model}) with the same defaults and checks, plus {@code
 * numWorkers}, {@code device} and {@code checkpointPath}. {@code fit} runs one barrier stage of {@code numWorkers}
 * tasks (default: Spark's default parallelism) over the DataFrame, repartitioned to one partition per worker unless
 * it has that many already; each task reads only its partition's rows, and the tasks train as one process would on
 * global batches of {@code batchSize} rows made of a slice of every partition ({@link PartitionTraining}), summing
 * their gradients over a TCP ring. Rank 0's weights return to the driver through a stage Spark can retry; a failed
 * task makes Spark run the stage again, which resumes from {@code checkpointPath} (a path every executor shares)
 * when one is set, as {@link SparkTrain} does.
 */
public final class MlpClassifier extends MlpParams<MlpClassifier> implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlpClassifier";
    /** The most classes a label column may have (Spark's getNumClasses counts them from the labels' maximum). */
    private static final int MAX_CLASSES = 10_000;

    private final IntParam numWorkers = new IntParam(this, "numWorkers",
            "Barrier tasks, one per partition (default: Spark's default parallelism)");
    private final Param<String> device = new Param<>(this, "device",
            "auto (the task's GPU when there is a real one, else the CPU), cpu, or cuda");
    private final Param<String> checkpointPath = new Param<>(this, "checkpointPath", "A file every executor can "
            + "reach, written after every epoch and resumed from when Spark runs a failed stage again");

    /** Fault injection for tests ("RANK:STEP", as SparkTrain's --fail-at): not a Param, never saved. */
    String failAt;

    public MlpClassifier() {
        this(Identifiable$.MODULE$.randomUID(UID_PREFIX));
    }

    /** The estimator of this uid (Spark ML's readers and copies construct it so). */
    public MlpClassifier(String uid) {
        super(SparkUid.hand(uid), UID_PREFIX);
        setDefault(device, "auto");
    }

    public IntParam numWorkers() {
        return numWorkers;
    }

    public MlpClassifier setNumWorkers(int value) {
        set(numWorkers.w(value));
        return this;
    }

    public int getNumWorkers() {
        return (Integer) getOrDefault(numWorkers);
    }

    public Param<String> device() {
        return device;
    }

    public MlpClassifier setDevice(String value) {
        set(device, value);
        return this;
    }

    public String getDevice() {
        return getOrDefault(device);
    }

    public Param<String> checkpointPath() {
        return checkpointPath;
    }

    public MlpClassifier setCheckpointPath(String value) {
        set(checkpointPath, value);
        return this;
    }

    public String getCheckpointPath() {
        return getOrDefault(checkpointPath);
    }

    @Override
    public MlpClassifier copy(ParamMap extra) {
        MlpClassifier c = defaultCopy(extra);
        c.failAt = failAt;
        return c;
    }

    public static MLReader<MlpClassifier> read() {
        return new DefaultParamsReader<>();
    }

    public static MlpClassifier load(String path) {
        return read().load(path);
    }

    @Override
    Map<Param<?>, String> options() {
        Map<Param<?>, String> o = super.options();
        o.put(numWorkers, "--workers");
        o.put(device, "--device");
        o.put(checkpointPath, "--checkpoint");
        return o;
    }

    /**
     * The job these Params describe, parsed and checked as the {@code train} command's options are (an mlp's default
     * layers are left out of a resmlp's); its run names no data source (the rows are the DataFrame's).
     *
     * @throws IllegalArgumentException naming the Param whose value is wrong
     */
    SparkTrainOptions.Job job() {
        Map<Param<?>, String> options = options();
        List<String> args = new ArrayList<>();
        boolean resMlp = "resmlp".equals(getArchitecture());
        options.forEach((param, option) -> {
            if (isDefined(param) && !(param == layers() && resMlp && !isSet(layers()))) {
                Object v = getOrDefault(param);
                args.add(option);
                args.add(v instanceof int[] ints ? Arrays.stream(ints).mapToObj(Integer::toString)
                        .collect(Collectors.joining(",")) : String.valueOf(v));
            }
        });
        if (failAt != null) {
            args.addAll(List.of("--fail-at", failAt));
        }
        try {
            SparkTrainOptions o = new SparkTrainOptions();
            new CommandLine(o).parseArgs(args.toArray(new String[0]));
            return o.job(null);
        } catch (IllegalArgumentException | CommandLine.ParameterException e) {
            Map<String, String> names = new LinkedHashMap<>();
            options.forEach((param, option) -> names.put(option, param.name()));
            Matcher m = Pattern.compile("--[a-z-]+").matcher(e.getMessage());
            StringBuilder sb = new StringBuilder("MlpClassifier: ");
            while (m.find()) {
                m.appendReplacement(sb, Matcher.quoteReplacement(names.getOrDefault(m.group(), m.group())));
            }
            throw new IllegalArgumentException(m.appendTail(sb).toString(), e);
        }
    }

    /** Called by Spark's {@code fit}, which has checked the schema and cast the label to double. */
    @Override
    public MlpClassificationModel train(Dataset<?> dataset) {
        SparkSession spark = dataset.sparkSession();
        SparkTrainOptions.Job asked = job();
        int features = DatasetUtils$.MODULE$.getNumFeatures(dataset, getFeaturesCol());
        RunSpec spec = asked.spec().fittedTo(features, getNumClasses(dataset, MAX_CLASSES));
        SparkTrainOptions.Job job = asked.with(spec);
        int n = isSet(numWorkers) ? getNumWorkers() : spark.sparkContext().defaultParallelism();
        if (n < 1 || spec.batch() < n) {
            throw new IllegalArgumentException("MlpClassifier: need numWorkers >= 1 and batchSize >= numWorkers; got "
                    + n + " and " + spec.batch());
        }
        DriverChecks.requireSlots(spark.sparkContext(), n);
        checkCheckpoint(job);
        Dataset<Row> rows = dataset.select(functions.col(getFeaturesCol()),
                functions.col(getLabelCol()).cast(DataTypes.DoubleType));
        if (!ownStage(rows.rdd(), n)) {
            rows = rows.repartition(n);
        }
        // The barrier stage feeds a shuffle (repartition(1)): Spark restarts a failed barrier stage only when it is a
        // shuffle-map stage; a failed barrier result stage aborts the job.
        PartitionTraining.Result[] results;
        try (TaskFailures failures = TaskFailures.watch(spark.sparkContext())) {
            try {
                results = (PartitionTraining.Result[]) rows.rdd().barrier().mapPartitions(new PartitionTask(job), false,
                        ClassTag$.MODULE$.apply(PartitionTraining.Result.class)).repartition(1, null).collect();
            } catch (Exception e) { // Spark's SparkException, undeclared
                throw failures.explain("MlpClassifier.fit: the training stage", e);
            }
        }
        PartitionTraining.Result[] byRank = new PartitionTraining.Result[n];
        for (PartitionTraining.Result r : results) {
            byRank[r.rank()] = r;
        }
        List<String> log = new ArrayList<>(List.of(PartitionTraining.describe(byRank)));
        log.addAll(byRank[0].report());
        return MlpClassificationModel.create(uid(), spec, byRank[0].state(), log,
                Arrays.stream(byRank).mapToInt(PartitionTraining.Result::rows).toArray());
    }

    /**
     * Whether {@code rdd} has {@code n} partitions, and so has every RDD it derives from within its stage (through
     * narrow dependencies, back to a shuffle or a source): what a barrier stage needs of its input (Spark refuses, say,
     * a union of smaller RDDs); else fit repartitions.
     */
    static boolean ownStage(RDD<?> rdd, int n) {
        if (rdd.getNumPartitions() != n) {
            return false;
        }
        for (Dependency<?> d : CollectionConverters.asJava(rdd.dependencies())) {
            if (d instanceof NarrowDependency<?> && !ownStage(d.rdd(), n)) {
                return false;
            }
        }
        return true;
    }

    private static void checkCheckpoint(SparkTrainOptions.Job job) {
        if (job.checkpoint() == null) {
            return;
        }
        try {
            Path ckpt = Path.of(job.checkpoint());
            AtomicFile.checkWritable(ckpt, 0, "checkpointPath", true);
            if (Files.exists(ckpt)) {
                RankTraining.checkSameRun(ckpt, job.spec());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One barrier task: {@link BarrierRank}'s ring and device, then {@link PartitionTraining} on its rows. */
    private static final class PartitionTask extends AbstractFunction1<Iterator<Row>,
            Iterator<PartitionTraining.Result>> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final SparkTrainOptions.Job job;

        PartitionTask(SparkTrainOptions.Job job) {
            this.job = job;
        }

        @Override
        public Iterator<PartitionTraining.Result> apply(Iterator<Row> rows) {
            PartitionTraining.Result r = BarrierRank.run(job, (ring, device, attempt) -> PartitionTraining.run(job,
                    CollectionConverters.asJava(rows), ring, device, attempt));
            return CollectionConverters.asScala(List.of(r).iterator());
        }
    }
}
