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
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsReader$;
import org.apache.spark.ml.util.DefaultParamsWriter$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * A trained network as the Spark ML models hold it: the run that made it, its state dict as host arrays (name ->
 * float[] for float32 tensors, int[] for int32 buffers), what the fit reported and the rows each worker trained on,
 * and metadata of the model's own (a regressor's target scale). It travels inside the model to the executors, each
 * of which rebuilds the network once, on the CPU, in evaluation mode, and runs it on one row at a time without
 * recording. {@link Writer} and {@link Reader} are Spark ML's persistence of the models: a folder of Spark's metadata
 * JSON and {@code data/model.safetensors} (the weights, the run's description and the model's metadata in its
 * header: a file the {@code evaluate} command and PyTorch read too), on any Hadoop file system.
 */
final class TrainedMlp implements Serializable {
    private static final long serialVersionUID = 1L;

    private final RunSpec spec;
    private final Map<String, Object> state;
    private final List<String> log;
    private final int[] rowsPerWorker;
    private final Map<String, String> metadata;
    private transient Sequential net;

    TrainedMlp(RunSpec spec, Map<String, Object> state, List<String> log, int[] rowsPerWorker,
               Map<String, String> metadata) {
        this.spec = spec;
        this.state = state;
        this.log = List.copyOf(log);
        this.rowsPerWorker = rowsPerWorker.clone();
        this.metadata = Map.copyOf(metadata);
    }

    /**
     * A model file's network (from {@code train}, {@code SparkTrain} or a saved Spark model), with the architecture
     * its metadata describes and, of the rest of its metadata, the keys under {@code prefix} (null: none).
     *
     * @throws IOException naming the file when it cannot be read, lacks a run description or holds a table's model
     */
    static TrainedMlp fromFile(Path file, String prefix) throws IOException {
        Map<String, String> meta = Safetensors.header(file).metadata();
        RunSpec spec = RunMetadata.read(meta, file);
        if (spec.architecture().tabular() != null) {
            throw new IllegalArgumentException(file + " is a table's model, which encodes raw CSV columns before its "
                    + "first layer; score it with the evaluate or predict command");
        }
        Map<String, String> own = new LinkedHashMap<>();
        meta.forEach((k, v) -> {
            if (prefix != null && k.startsWith(prefix)) {
                own.put(k, v);
            }
        });
        try (Sequential m = spec.newModel(Device.CPU)) {
            Checkpoint.load(file, m);
            return new TrainedMlp(spec, stateOf(m), List.of(), new int[0], own);
        }
    }

    /** A model's state dict as host arrays. */
    static LinkedHashMap<String, Object> stateOf(Sequential model) {
        LinkedHashMap<String, Object> state = new LinkedHashMap<>();
        model.stateDict().forEach((k, v) -> state.put(k, v.dtype() == DType.INT32 ? v.toIntArray()
                : v.toFloatArray()));
        return state;
    }

    RunSpec spec() {
        return spec;
    }

    Map<String, Object> state() {
        return state;
    }

    List<String> log() {
        return log;
    }

    int[] rowsPerWorker() {
        return rowsPerWorker.clone();
    }

    /** The model's own metadata (e.g. a regressor's target scale), as its file's header keeps it. */
    Map<String, String> metadata() {
        return metadata;
    }

    int inputs() {
        return spec.sizes()[0];
    }

    int outputs() {
        int[] sizes = spec.sizes();
        return sizes[sizes.length - 1];
    }

    /**
     * The network's outputs for one row of features.
     *
     * @throws IllegalArgumentException naming the model and the widths when the row has another width
     */
    double[] forward(Vector features) {
        if (features.size() != inputs()) {
            throw new IllegalArgumentException("backprop4j model " + spec.layersText() + ": a row of "
                    + features.size() + " features, expected " + inputs());
        }
        double[] x = features.toArray();
        float[] row = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            row[i] = (float) x[i];
        }
        Sequential model = network();
        float[] out;
        synchronized (model) {
            try (GradMode.Guard off = GradMode.noGrad(); Tensor in = Tensor.of(row, 1, row.length);
                 Tensor y = model.forward(in)) {
                out = y.toFloatArray();
            }
        }
        double[] result = new double[out.length];
        for (int i = 0; i < out.length; i++) {
            result[i] = out[i];
        }
        return result;
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

    /** Where the weights lie in a saved model's folder. */
    private static org.apache.hadoop.fs.Path weights(String folder) {
        return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(folder, "data"), "model.safetensors");
    }

    /** Writes the weights into {@code folder}: to a local file first, then copied onto the folder's file system. */
    private void save(String folder, Configuration conf) throws IOException {
        Path local = Files.createTempFile("backprop4j-model", ".safetensors");
        try {
            Map<String, String> meta = new LinkedHashMap<>(RunMetadata.of(spec));
            meta.putAll(metadata);
            Checkpoint.save(local, network(), meta);
            org.apache.hadoop.fs.Path to = weights(folder);
            to.getFileSystem(conf).copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), to);
        } finally {
            Files.deleteIfExists(local);
        }
    }

    private static TrainedMlp load(String folder, Configuration conf, String prefix) throws IOException {
        Path local = Files.createTempFile("backprop4j-model", ".safetensors");
        try {
            org.apache.hadoop.fs.Path from = weights(folder);
            from.getFileSystem(conf).copyToLocalFile(false, from, new org.apache.hadoop.fs.Path(local.toUri()), true);
            return fromFile(local, prefix);
        } finally {
            Files.deleteIfExists(local);
        }
    }

    /** Spark ML's writer of a model that holds a {@link TrainedMlp}. */
    static final class Writer extends MLWriter {
        private final Params model;
        private final TrainedMlp trained;

        Writer(Params model, TrainedMlp trained) {
            this.model = model;
            this.trained = trained;
        }

        @Override
        public void saveImpl(String path) {
            DefaultParamsWriter$.MODULE$.saveMetadata(model, path, sparkSession());
            try {
                trained.save(path, sc().hadoopConfiguration());
            } catch (IOException e) {
                throw new UncheckedIOException("saving the backprop4j model to " + path + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Spark ML's reader of {@link Writer}'s folders: the weights, then the model {@code make} builds of the saved
     * uid, then the saved Params set on it.
     */
    static final class Reader<M extends Params> extends MLReader<M> {
        private final Class<M> type;
        private final String prefix;
        private final BiFunction<String, TrainedMlp, M> make;

        Reader(Class<M> type, String prefix, BiFunction<String, TrainedMlp, M> make) {
            this.type = type;
            this.prefix = prefix;
            this.make = make;
        }

        @Override
        public M load(String path) {
            DefaultParamsReader.Metadata meta = DefaultParamsReader$.MODULE$.loadMetadata(path, sparkSession(),
                    type.getName());
            try {
                M model = make.apply(meta.uid(), TrainedMlp.load(path, sc().hadoopConfiguration(), prefix));
                meta.getAndSetParams(model, scala.Option.empty());
                return model;
            } catch (IOException e) {
                throw new UncheckedIOException("loading the backprop4j model of " + path + ": " + e.getMessage(), e);
            }
        }
    }
}
