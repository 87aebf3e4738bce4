package dev.backprop4j.spark;

import org.apache.spark.ml.classification.ProbabilisticClassifier;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;

import java.util.Map;

/**
 * A backprop4j MLP classifier as a Spark ML estimator: {@code new MlpClassifier().setLayers(new int[] {256, 128})
 * .setEpochs(10).fit(df)} trains on a DataFrame's features vector column and label column (class indices 0, 1, ...;
 * Spark's {@code featuresCol} and {@code labelCol}) and returns an {@link MlpClassificationModel}, whose {@code
 * transform} adds {@code rawPrediction}, {@code probability} and {@code prediction}; it works inside a {@code
 * Pipeline}, under a {@code CrossValidator}, and saves and loads with Spark ML's writers. Its Params are {@link
 * MlpParams}: the {@code train} command's options, and {@code numWorkers}, {@code device}, {@code checkpointPath}.
 *
 * <p>{@code fit} runs one barrier stage of {@code numWorkers} tasks (default: Spark's default parallelism) over the
 * DataFrame, repartitioned to one partition per worker unless it has that many already; each task reads only its
 * partition's rows, and the tasks train as one process would on global batches of {@code batchSize} rows made of a
 * slice of every partition ({@link PartitionTraining}), summing their gradients over a TCP ring. Rank 0's weights
 * return to the driver through a stage Spark can retry; a failed task makes Spark run the stage again, which resumes
 * from {@code checkpointPath} (a path every executor shares) when one is set, as {@link SparkTrain} does.
 */
public final class MlpClassifier extends ProbabilisticClassifier<Vector, MlpClassifier, MlpClassificationModel>
        implements MlpParams<MlpClassifier>, DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlpClassifier";
    /** The most classes a label column may have (Spark's getNumClasses counts them from the labels' maximum). */
    private static final int MAX_CLASSES = 10_000;

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final RunParams run = new RunParams(this);

    /** Fault injection for tests ("RANK:STEP", as SparkTrain's --fail-at): not a Param, never saved. */
    String failAt;

    public MlpClassifier() {
        this(Identifiable$.MODULE$.randomUID(UID_PREFIX));
    }

    /** The estimator of this uid (Spark ML's readers and copies construct it so). */
    public MlpClassifier(String uid) {
        this(SparkUid.hand(uid));
    }

    private MlpClassifier(SparkUid.Handed uid) {
        uid();
        SparkUid.done();
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = SparkUid.take(UID_PREFIX);
        }
        return uid;
    }

    @Override
    public RunParams runParams() {
        return run;
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

    /** The job these Params describe (errors name the Param). */
    SparkTrainOptions.Job job() {
        return run.job(this, failAt);
    }

    /** Called by Spark's {@code fit}, which has checked the schema and cast the label to double. */
    @Override
    public MlpClassificationModel train(Dataset<?> dataset) {
        PartitionTraining.Fitted fitted = PartitionTraining.fit(dataset, getFeaturesCol(), getLabelCol(), job(),
                getNumClasses(dataset, MAX_CLASSES), isSet(numWorkers()) ? getNumWorkers() : null, false,
                "MlpClassifier");
        return MlpClassificationModel.create(uid(), fitted.trained(Map.of()));
    }
}
