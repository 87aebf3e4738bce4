package dev.backprop4j.io;

import dev.backprop4j.nn.Module;
import dev.backprop4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** Saves and loads a module's parameters as safetensors, by their dotted names (PyTorch's state_dict names). */
public final class Checkpoint {
    private Checkpoint() {
    }

    /** Writes every parameter of {@code model} and the metadata to {@code file}, atomically. */
    public static void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, model.namedParameters(), metadata);
    }

    /**
     * Loads {@code file} into {@code model}. Names, shapes and dtypes must match exactly; otherwise nothing
     * is changed and the error lists every mismatch. Returns the file's metadata.
     */
    public static Map<String, String> load(Module model, Path file) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        try {
            Map<String, Tensor> params = model.namedParameters();
            List<String> problems = new ArrayList<>();
            TreeSet<String> missing = new TreeSet<>(params.keySet());
            missing.removeAll(c.tensors().keySet());
            TreeSet<String> unexpected = new TreeSet<>(c.tensors().keySet());
            unexpected.removeAll(params.keySet());
            if (!missing.isEmpty()) {
                problems.add("missing " + missing);
            }
            if (!unexpected.isEmpty()) {
                problems.add("unexpected " + unexpected);
            }
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor stored = c.tensors().get(e.getKey());
                Tensor p = e.getValue();
                if (stored != null && (!stored.shape().equals(p.shape()) || stored.dtype() != p.dtype())) {
                    problems.add("'" + e.getKey() + "' is " + stored.shape() + " " + stored.dtype() + " in the file but "
                            + p.shape() + " " + p.dtype() + " in the model");
                }
            }
            if (!problems.isEmpty()) {
                throw new CheckpointException(file + " does not fit the model: " + String.join("; ", problems));
            }
            for (String name : params.keySet()) {
                model.setParameter(name, c.tensors().get(name));
            }
            return c.metadata();
        } finally {
            c.tensors().values().forEach(Tensor::close);
        }
    }
}
