package dev.backprop4j.spark;

import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.regression.Regressor;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;


/**
 * A backprop4j MLP regressor as a Spark ML estimator: {@code new MlpRegressor().setLayers(new int[] {64, 64})
 * .fit(df)} trains one output on a DataFrame's features vector column and numeric label column by mean squared
 * error, and returns an {@link MlpRegressionModel}, whose {@code transform} adds {@code prediction}. The targets are
 * standardised for training with their mean and standard deviation over all partitions (as the {@code train}
 * command's {@code --task regress} does, so that the learning rate means the same whatever the target's units); the
 * model predicts in the target's units. Params, partitions, workers, checkpoints and failures as {@link
 * MlpClassifier}'s; {@code labelSmoothing} applies to classes and is refused.
 */
public final class MlpRegressor extends Regressor<Vector, MlpRegressor, MlpRegressionModel>
        implements MlpParams<MlpRegressor>, DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlpRegressor";

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final RunParams run = new RunParams(this);

    /** Fault injection for tests ("RANK:STEP", as SparkTrain's --fail-at): not a Param, never saved. */
    String failAt;

    public MlpRegressor() {
        this(Identifiable$.MODULE$.randomUID(UID_PREFIX));
    }

    /** The estimator of this uid (Spark ML's readers and copies construct it so). */
    public MlpRegressor(String uid) {
        this(SparkUid.hand(uid));
    }

    private MlpRegressor(SparkUid.Handed uid) {
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
    public MlpRegressor copy(ParamMap extra) {
        MlpRegressor c = defaultCopy(extra);
        c.failAt = failAt;
        return c;
    }

    public static MLReader<MlpRegressor> read() {
        return new DefaultParamsReader<>();
    }

    public static MlpRegressor load(String path) {
        return read().load(path);
    }

    /** The job these Params describe (errors name the Param). */
    SparkTrainOptions.Job job() {
        if (getLabelSmoothing() != 0) {
            throw new IllegalArgumentException("MlpRegressor: labelSmoothing applies to classes, not to a regressor");
        }
        return run.job(this, failAt);
    }

    /** Called by Spark's {@code fit}, which has checked the schema and cast the label to double. */
    @Override
    public MlpRegressionModel train(Dataset<?> dataset) {
        PartitionTraining.Fitted fitted = PartitionTraining.fit(dataset, getFeaturesCol(), getLabelCol(), job(), 1,
                isSet(numWorkers()) ? getNumWorkers() : null, true, "MlpRegressor");
        PartitionTraining.Result first = fitted.first();
        return MlpRegressionModel.create(uid(), fitted.trained(MlpRegressionModel.targetScale(first.targetMean(),
                first.targetStd())));
    }
}
