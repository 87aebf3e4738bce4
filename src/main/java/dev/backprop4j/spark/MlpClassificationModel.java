package dev.backprop4j.spark;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsReader$;
import org.apache.spark.ml.util.DefaultParamsWriter$;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A trained backprop4j classifier as a Spark ML model: {@code MlpClassificationModel.fromFile(path).transform(df)}
 * adds Spark's {@code rawPrediction} (the logits), {@code probability} (their softmax) and {@code prediction} columns
 * from a vector column of features (Spark's {@code featuresCol}, default "features"), as Spark's own classifiers do,
 * so it scores DataFrames inside pipelines and evaluators. The model file is any that {@code train}, {@code
 * SparkTrain} or {@code Checkpoint.save} with its run description wrote; a table's model (which encodes raw columns
 * first) is refused. The weights travel inside the model to the executors, each of which rebuilds the network once,
 * on the CPU, and scores its rows one at a time without recording.
 */
public final class MlpClassificationModel
        extends ProbabilisticClassificationModel<Vector, MlpClassificationModel> implements MLWritable {
    private static final long serialVersionUID = 1L;
    private static final String UID_PREFIX = "backprop4jMlp";

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final RunSpec spec;
    /** The state dict: name -> float[] (float32 tensors) or int[] (int32 buffers). */
    private final Map<String, Object> state;
    /** What {@link MlpClassifier#fit} reported and the rows each of its workers trained on; empty for a loaded model. */
    private final List<String> trainingLog;
    private final int[] rowsPerWorker;
    private transient Sequential net;

    private MlpClassificationModel(SparkUid.Handed uid, RunSpec spec, Map<String, Object> state,
                                   List<String> trainingLog, int[] rowsPerWorker) {
        uid();
        SparkUid.done();
        this.spec = spec;
        this.state = state;
        this.trainingLog = List.copyOf(trainingLog);
        this.rowsPerWorker = rowsPerWorker.clone();
    }

    static MlpClassificationModel create(String uid, RunSpec spec, Map<String, Object> state, List<String> trainingLog,
                                         int[] rowsPerWorker) {
        return new MlpClassificationModel(SparkUid.hand(uid), spec, state, trainingLog, rowsPerWorker);
    }

    /**
     * The model a file holds, with the architecture its metadata describes.
     *
     * @throws IOException naming the file when it cannot be read, lacks a run description or holds a table's model
     */
    public static MlpClassificationModel fromFile(Path file) throws IOException {
        return fromFile(file, Identifiable$.MODULE$.randomUID(UID_PREFIX));
    }

    private static MlpClassificationModel fromFile(Path file, String uid) throws IOException {
        RunSpec spec = RunMetadata.read(Safetensors.header(file).metadata(), file);
        if (spec.architecture().tabular() != null) {
            throw new IllegalArgumentException(file + " is a table's model, which encodes raw CSV columns before its "
                    + "first layer; score it with the evaluate or predict command");
        }
        try (Sequential m = spec.newModel(Device.CPU)) {
            Checkpoint.load(file, m);
            return create(uid, spec, stateOf(m), List.of(), new int[0]);
        }
    }

    /** A model's state dict as host arrays: name -> float[] (float32 tensors) or int[] (int32 buffers). */
    static LinkedHashMap<String, Object> stateOf(Sequential model) {
        LinkedHashMap<String, Object> state = new LinkedHashMap<>();
        model.stateDict().forEach((k, v) -> state.put(k, v.dtype() == DType.INT32 ? v.toIntArray()
                : v.toFloatArray()));
        return state;
    }

    /** The run that trained this model (its architecture, optimizer and settings, fitted to the data's widths). */
    public RunSpec runSpec() {
        return spec;
    }

    /** The state dict: name -> float[] (float32 tensors) or int[] (int32 buffers). */
    Map<String, Object> state() {
        return state;
    }

    /** The lines {@link MlpClassifier#fit} reported (a line per epoch with loss and accuracy over all workers). */
    public List<String> trainingLog() {
        return trainingLog;
    }

    /** The rows each worker of {@link MlpClassifier#fit} trained on, by rank: its partition's, and no more. */
    public int[] rowsPerWorker() {
        return rowsPerWorker.clone();
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = SparkUid.take(UID_PREFIX);
        }
        return uid;
    }

    @Override
    public int numClasses() {
        int[] sizes = spec.sizes();
        return sizes[sizes.length - 1];
    }

    @Override
    public int numFeatures() {
        return spec.sizes()[0];
    }

    /** The logits of one row. */
    @Override
    public Vector predictRaw(Vector features) {
        if (features.size() != numFeatures()) {
            throw new IllegalArgumentException("backprop4j model " + spec.layersText() + ": a row of "
                    + features.size() + " features, expected " + numFeatures());
        }
        double[] x = features.toArray();
        float[] row = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            row[i] = (float) x[i];
        }
        Sequential model = network();
        float[] logits;
        synchronized (model) {
            try (GradMode.Guard off = GradMode.noGrad(); Tensor in = Tensor.of(row, 1, row.length);
                 Tensor out = model.forward(in)) {
                logits = out.toFloatArray();
            }
        }
        double[] raw = new double[logits.length];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = logits[i];
        }
        return Vectors.dense(raw);
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
        return copyValues(create(uid(), spec, state, trainingLog, rowsPerWorker), extra);
    }

    /**
     * Spark ML's writer: {@code model.write().save(path)} (or {@code .overwrite()}) makes a folder of Spark's
     * metadata JSON (the class, uid and column params, as every Spark model's) and {@code data/model.safetensors}, the
     * weights with the run's description in their header: a file the {@code evaluate} and {@code predict} commands
     * and PyTorch read too. The path may be on any Hadoop file system.
     */
    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    /** Spark ML's reader of {@link #write}'s folders, which {@code PipelineModel.load} finds by reflection. */
    public static MLReader<MlpClassificationModel> read() {
        return new Reader();
    }

    public static MlpClassificationModel load(String path) {
        return read().load(path);
    }

    /** Where the weights lie in a saved model's folder. */
    private static org.apache.hadoop.fs.Path weights(String folder) {
        return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(folder, "data"), "model.safetensors");
    }

    private static final class Writer extends MLWriter {
        private final MlpClassificationModel model;

        Writer(MlpClassificationModel model) {
            this.model = model;
        }

        @Override
        public void saveImpl(String path) {
            DefaultParamsWriter$.MODULE$.saveMetadata(model, path, sparkSession());
            try {
                Path local = Files.createTempFile("backprop4j-model", ".safetensors");
                try {
                    Checkpoint.save(local, model.network(), RunMetadata.of(model.spec));
                    org.apache.hadoop.fs.Path to = weights(path);
                    to.getFileSystem(sc().hadoopConfiguration()).copyFromLocalFile(false, true,
                            new org.apache.hadoop.fs.Path(local.toUri()), to);
                } finally {
                    Files.deleteIfExists(local);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("saving the backprop4j model to " + path + ": " + e.getMessage(), e);
            }
        }
    }

    private static final class Reader extends MLReader<MlpClassificationModel> {
        @Override
        public MlpClassificationModel load(String path) {
            DefaultParamsReader.Metadata meta = DefaultParamsReader$.MODULE$.loadMetadata(path, sparkSession(),
                    MlpClassificationModel.class.getName());
            try {
                Path local = Files.createTempFile("backprop4j-model", ".safetensors");
                try {
                    org.apache.hadoop.fs.Path from = weights(path);
                    from.getFileSystem(sc().hadoopConfiguration()).copyToLocalFile(false, from,
                            new org.apache.hadoop.fs.Path(local.toUri()), true);
                    MlpClassificationModel m = fromFile(local, meta.uid());
                    meta.getAndSetParams(m, scala.Option.empty());
                    return m;
                } finally {
                    Files.deleteIfExists(local);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("loading the backprop4j model of " + path + ": " + e.getMessage(), e);
            }
        }
    }

    /** The network, rebuilt from the state once per deserialised copy (on each executor), in evaluation mode. */
    private synchronized Sequential network() {
        if (net == null) {
            Sequential m = spec.newModel(Device.CPU);
            m.stateDict().forEach((k, v) -> {
                Object values = state.get(k);
                if (values instanceof int[] ints) {
                    v.copyFrom(ints);
                } else {
                    v.copyFrom((float[]) values);
                }
            });
            m.eval();
            net = m;
        }
        return net;
    }
}
