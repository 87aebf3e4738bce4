package dev.backprop4j.io;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Module;
import dev.backprop4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Saves and loads a module's parameters as safetensors, by their dotted names (PyTorch's state_dict names). Loading
 * reads the header first and checks every name, shape and dtype against the model before any data is read; then
 * each tensor goes straight into its parameter, one at a time, so a model of any size loads with one tensor's worth
 * of extra memory.
 */
public final class Checkpoint {

    /** The shape and dtype a parameter must have. */
    public record Expected(Shape shape, DType dtype) {
    }

    private Checkpoint() {
    }

    /**
     * Writes {@code model}'s state (every parameter and buffer, {@link Module#stateDict}) and the metadata to
     * {@code file}, atomically.
     */
    public static void save(Path file, Module model, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, model.stateDict(), metadata);
    }

    /** Bytes {@link #save} writes for {@code model}'s data (the header adds a few hundred). */
    public static long dataBytes(Module model) {
        long bytes = 0;
        for (Tensor p : model.stateDict().values()) {
            bytes += p.size() * p.dtype().bytes();
        }
        return bytes;
    }

    /**
     * Loads {@code file} into {@code model}. Names, shapes and dtypes must match exactly; otherwise nothing
     * is changed and the error lists every mismatch. Returns the file's metadata.
     */
    public static Map<String, String> load(Path file, Module model) throws IOException {
        return load(file, model, Safetensors.header(file));
    }

    /** {@link #load(Path, Module)} with the file's header already read ({@link Safetensors#header}). */
    public static Map<String, String> load(Path file, Module model, SafetensorsHeader h) throws IOException {
        Map<String, Tensor> params = model.stateDict();
        Map<String, Expected> expected = new LinkedHashMap<>();
        params.forEach((name, p) -> expected.put(name, new Expected(p.shape(), p.dtype())));
        requireFits(file, h, expected);
        readParameters(file, model, h);
        return h.metadata();
    }

    /**
     * Reads each of the model's parameters and buffers from the file into it, one tensor at a time, after the caller has checked
     * them ({@link #requireFits}); the file may hold other tensors too (a training checkpoint's optimizer state).
     * Every parameter is first checked for NaN and infinities, so a file that fails changes nothing.
     *
     * @throws CheckpointException naming the tensor when it holds a NaN or an infinity (a run that diverged): such a
     *                             model can neither be scored nor trained on
     */
    public static void readParameters(Path file, Module model, SafetensorsHeader h) throws IOException {
        for (String name : model.stateDict().keySet()) {
            Safetensors.requireFinite(file, h, name);
        }
        for (String name : model.stateDict().keySet()) {
            try (Tensor stored = Safetensors.readTensor(file, h, name)) {
                model.setParameter(name, stored);
            }
        }
    }

    /**
     * Fails, listing every missing, unexpected or differently shaped tensor, unless the file's tensors are exactly
     * {@code expected}; reads no data, so a model can be checked before it is built.
     */
    public static void requireFits(Path file, SafetensorsHeader h, Map<String, Expected> expected) {
        requireFits(file, h, expected, null);
    }

    /**
     * {@link #requireFits(Path, SafetensorsHeader, Map)} that passes over the file's tensors whose names start with
     * {@code ignoredPrefix} (a training checkpoint's "optimizer." state, when only its model is read).
     */
    public static void requireFits(Path file, SafetensorsHeader h, Map<String, Expected> expected,
                                   String ignoredPrefix) {
        List<String> problems = new ArrayList<>();
        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        missing.removeAll(h.tensors().keySet());
        TreeSet<String> unexpected = new TreeSet<>(h.tensors().keySet());
        unexpected.removeAll(expected.keySet());
        if (ignoredPrefix != null) {
            unexpected.removeIf(name -> name.startsWith(ignoredPrefix));
        }
        if (!missing.isEmpty()) {
            problems.add("missing " + missing);
        }
        if (!unexpected.isEmpty()) {
            problems.add("unexpected " + unexpected.stream().map(dev.backprop4j.core.Excerpt::of).toList());
        }
        for (Map.Entry<String, Expected> e : expected.entrySet()) {
            SafetensorsHeader.TensorInfo stored = h.tensors().get(e.getKey());
            Expected p = e.getValue();
            if (stored != null && (!stored.shape().equals(p.shape()) || stored.dtype() != p.dtype())) {
                problems.add("'" + e.getKey() + "' is " + stored.shape() + " " + stored.dtype() + " in the file but "
                        + p.shape() + " " + p.dtype() + " in the model");
            }
        }
        if (!problems.isEmpty()) {
            throw new CheckpointException(file + " does not fit the model: " + String.join("; ", problems));
        }
    }
}
