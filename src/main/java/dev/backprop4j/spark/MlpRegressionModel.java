package dev.backprop4j.spark;

import dev.backprop4j.train.RunSpec;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.regression.RegressionModel;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;

import java.util.List;
import java.util.Map;

/**
 * A trained backprop4j regressor as a Spark ML model, what {@link MlpRegressor#fit} returns: {@code transform(df)}
 * adds {@code prediction}, the network's one output in the target's units (output x the training targets' standard
 * deviation + their mean, both kept in the model). Saves and loads with Spark ML's writer and reader, as {@link
 * MlpClassificationModel} does; the scale travels in the weights file's header.
 */
public final class MlpRegressionModel extends RegressionModel<Vector, MlpRegressionModel> implements MLWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlpRegressor";
    /** The header keys of the target's scale. */
    private static final String MEAN = "backprop4j.spark.target-mean";
    private static final String STD = "backprop4j.spark.target-std";

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final TrainedMlp trained;
    private final double mean;
    private final double std;

    private MlpRegressionModel(SparkUid.Handed uid, TrainedMlp trained) {
        uid();
        SparkUid.done();
        this.trained = trained;
        this.mean = Double.parseDouble(trained.metadata().getOrDefault(MEAN, "0"));
        this.std = Double.parseDouble(trained.metadata().getOrDefault(STD, "1"));
    }

    static MlpRegressionModel create(String uid, TrainedMlp trained) {
        return new MlpRegressionModel(SparkUid.hand(uid), trained);
    }

    /** The metadata of a target scale, as the model's file keeps it (exactly: the doubles' shortest decimal). */
    static Map<String, String> targetScale(double mean, double std) {
        return Map.of(MEAN, Double.toString(mean), STD, Double.toString(std));
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = SparkUid.take(UID_PREFIX);
        }
        return uid;
    }

    /** The run that trained this model (its architecture, optimizer and settings, fitted to the data's width). */
    public RunSpec runSpec() {
        return trained.spec();
    }

    /** The training targets' mean, which predictions are shifted by. */
    public double targetMean() {
        return mean;
    }

    /** The training targets' standard deviation, which predictions are scaled by. */
    public double targetStd() {
        return std;
    }

    /** The lines {@link MlpRegressor#fit} reported (the workers, then a line per epoch); empty when loaded. */
    public List<String> trainingLog() {
        return trained.log();
    }

    /** The rows each worker of {@link MlpRegressor#fit} trained on, by rank; empty when loaded. */
    public int[] rowsPerWorker() {
        return trained.rowsPerWorker();
    }

    @Override
    public int numFeatures() {
        return trained.inputs();
    }

    @Override
    public double predict(Vector features) {
        return trained.forward(features)[0] * std + mean;
    }

    @Override
    public MlpRegressionModel copy(ParamMap extra) {
        return copyValues(create(uid(), trained), extra).setParent(parent());
    }

    /** Spark ML's writer: a folder of Spark's metadata and {@code data/model.safetensors}. */
    @Override
    public MLWriter write() {
        return new TrainedMlp.Writer(this, trained);
    }

    /** Spark ML's reader of {@link #write}'s folders, which {@code PipelineModel.load} finds by reflection. */
    public static MLReader<MlpRegressionModel> read() {
        return new TrainedMlp.Reader<>(MlpRegressionModel.class, "backprop4j.spark.target-",
                MlpRegressionModel::create);
    }

    public static MlpRegressionModel load(String path) {
        return read().load(path);
    }
}
