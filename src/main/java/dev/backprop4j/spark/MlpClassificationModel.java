package dev.backprop4j.spark;

import dev.backprop4j.train.RunSpec;
import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A trained backprop4j classifier as a Spark ML model, what {@link MlpClassifier#fit} returns: {@code transform(df)}
 * adds Spark's {@code rawPrediction} (the logits), {@code probability} (their softmax) and {@code prediction} columns
 * from a vector column of features (Spark's {@code featuresCol}, default "features"), as Spark's own classifiers do,
 * so it scores DataFrames inside pipelines and evaluators. It saves and loads with Spark ML's writer and reader
 * ({@code write().save(path)}, {@link #load}; in a {@code PipelineModel} too). {@link #fromFile} takes any model file
 * that {@code train}, {@code SparkTrain} or {@code Checkpoint.save} with its run description wrote; a table's model
 * (which encodes raw columns first) is refused.
 */
public final class MlpClassificationModel
        extends ProbabilisticClassificationModel<Vector, MlpClassificationModel> implements MLWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlp";

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final TrainedMlp trained;

    private MlpClassificationModel(SparkUid.Handed uid, TrainedMlp trained) {
        uid();
        SparkUid.done();
        this.trained = trained;
    }

    static MlpClassificationModel create(String uid, TrainedMlp trained) {
        return new MlpClassificationModel(SparkUid.hand(uid), trained);
    }

    /**
     * The model a file holds, with the architecture its metadata describes.
     *
     * @throws IOException naming the file when it cannot be read, lacks a run description or holds a table's model
     */
    public static MlpClassificationModel fromFile(Path file) throws IOException {
        return create(Identifiable$.MODULE$.randomUID(UID_PREFIX), TrainedMlp.fromFile(file, null));
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = SparkUid.take(UID_PREFIX);
        }
        return uid;
    }

    /** The run that trained this model (its architecture, optimizer and settings, fitted to the data's widths). */
    public RunSpec runSpec() {
        return trained.spec();
    }

    /** The lines {@link MlpClassifier#fit} reported (the workers, then a line per epoch); empty when loaded. */
    public List<String> trainingLog() {
        return trained.log();
    }

    /** The rows each worker of {@link MlpClassifier#fit} trained on, by rank: its partition's; empty when loaded. */
    public int[] rowsPerWorker() {
        return trained.rowsPerWorker();
    }

    /** The state dict: name -> float[] (float32 tensors) or int[] (int32 buffers). */
    Map<String, Object> state() {
        return trained.state();
    }

    @Override
    public int numClasses() {
        return trained.outputs();
    }

    @Override
    public int numFeatures() {
        return trained.inputs();
    }

    /** The logits of one row. */
    @Override
    public Vector predictRaw(Vector features) {
        return Vectors.dense(trained.forward(features));
    }

    /** Softmax of the logits, in place, stable (the largest logit subtracted first). */
    @Override
    public Vector raw2probabilityInPlace(Vector raw) {
        double[] v = ((DenseVector) raw).values();
        double max = Double.NEGATIVE_INFINITY;
        for (double d : v) {
            max = Math.max(max, d);
        }
        double sum = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.exp(v[i] - max);
            sum += v[i];
        }
        for (int i = 0; i < v.length; i++) {
            v[i] /= sum;
        }
        return raw;
    }

    /**
     * Spark's own: Scala declares it in both of Spark's model classes with covariant tuple types, which only a raw
     * type overrides from Java.
     */
    @Override
    @SuppressWarnings("rawtypes")
    public scala.Tuple3 findSummaryModel() {
        return super.findSummaryModel();
    }

    @Override
    public MlpClassificationModel copy(ParamMap extra) {
        return copyValues(create(uid(), trained), extra).setParent(parent());
    }

    /** Spark ML's writer: a folder of Spark's metadata and {@code data/model.safetensors}. */
    @Override
    public MLWriter write() {
        return new TrainedMlp.Writer(this, trained);
    }

    /** Spark ML's reader of {@link #write}'s folders, which {@code PipelineModel.load} finds by reflection. */
    public static MLReader<MlpClassificationModel> read() {
        return new TrainedMlp.Reader<>(MlpClassificationModel.class, null, MlpClassificationModel::create);
    }

    public static MlpClassificationModel load(String path) {
        return read().load(path);
    }
}
