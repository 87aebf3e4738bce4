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
import org.apache.spark.ml.util.Identifiable$;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
        extends ProbabilisticClassificationModel<Vector, MlpClassificationModel> {
    private static final long serialVersionUID = 1L;

    /** The uid a model under construction takes (Spark's constructors ask for it before ours runs). */
    private static final ThreadLocal<String> CONSTRUCTING = new ThreadLocal<>();

    /** Set by the first {@link #uid()} call, which Spark's constructors make; no initializer may reset it. */
    private String uid;
    private final RunSpec spec;
    /** The state dict: name -> float[] (float32 tensors) or int[] (int32 buffers). */
    private final Map<String, Object> state;
    private transient Sequential net;

    private MlpClassificationModel(RunSpec spec, Map<String, Object> state) {
        this.spec = spec;
        this.state = state;
    }

    private static MlpClassificationModel create(String uid, RunSpec spec, Map<String, Object> state) {
        CONSTRUCTING.set(uid);
        try {
            return new MlpClassificationModel(spec, state);
        } finally {
            CONSTRUCTING.remove();
        }
    }

    /**
     * The model a file holds, with the architecture its metadata describes.
     *
     * @throws IOException naming the file when it cannot be read, lacks a run description or holds a table's model
     */
    public static MlpClassificationModel fromFile(Path file) throws IOException {
        RunSpec spec = RunMetadata.read(Safetensors.header(file).metadata(), file);
        if (spec.architecture().tabular() != null) {
            throw new IllegalArgumentException(file + " is a table's model, which encodes raw CSV columns before its "
                    + "first layer; score it with the evaluate or predict command");
        }
        Map<String, Object> state = new LinkedHashMap<>();
        try (Sequential m = spec.newModel(Device.CPU)) {
            Checkpoint.load(file, m);
            m.stateDict().forEach((k, v) -> state.put(k, v.dtype() == DType.INT32 ? v.toIntArray() : v.toFloatArray()));
        }
        return create(Identifiable$.MODULE$.randomUID("backprop4jMlp"), spec, state);
    }

    @Override
    public String uid() {
        if (uid == null) {
            String given = CONSTRUCTING.get();
            uid = given != null ? given : Identifiable$.MODULE$.randomUID("backprop4jMlp");
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
        return copyValues(create(uid(), spec, state), extra);
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
