package dev.backprop4j.cli;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Module;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.train.Trainer;
import dev.backprop4j.train.TrainingCheckpoint;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * What a `train` run was started with, stored in its --checkpoint files beside the training state, so that
 * --resume continues the same run: a different data set, model, optimizer, learning rate, schedule, batch size or
 * seed is refused naming the option (it would not continue that run), and the per-epoch history comes back for
 * --plot. Only --epochs may grow (with --schedule cosine the decay is then recomputed for the new length).
 */
record RunRecord(ModelSpec model, String data, Integer labelColumn, String optimizer, double lr, String schedule,
                 int batch, long seed, int epochs, Integer limit) {
    private static final String PREFIX = "backprop4j.run.";
    private static final String HISTORY = PREFIX + "history";

    /** The metadata of a --checkpoint file: the model's description, these options, and the history so far. */
    Map<String, String> metadata(List<TrainingChart.Point> history) {
        Map<String, String> m = new LinkedHashMap<>(model.metadata());
        options().forEach((k, v) -> m.put(PREFIX + k, v));
        m.put(PREFIX + "epochs", Integer.toString(epochs));
        m.put(HISTORY, new Gson().toJson(history));
        return m;
    }

    /** The options a resumed run must share, by option name. */
    private Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("data", data);
        o.put("label-column", Objects.toString(labelColumn, "default"));
        o.put("layers", String.join(",", java.util.Arrays.stream(model.sizes()).mapToObj(Integer::toString)
                .toList()));
        o.put("activation", model.activation().label());
        o.put("optimizer", optimizer);
        o.put("lr", Double.toString(lr));
        o.put("schedule", schedule);
        o.put("batch", Integer.toString(batch));
        o.put("seed", Long.toString(seed));
        o.put("limit", Objects.toString(limit, "none"));
        return o;
    }

    /**
     * Checks that {@code file} was written by a run with these options, restores the training state into the model,
     * optimizer and trainer, and the history into {@code history}; returns the epochs done.
     */
    int resume(Path file, Module net, Optimizer opt, Trainer trainer, List<TrainingChart.Point> history,
               Function<String, RuntimeException> usage) throws IOException {
        Map<String, String> meta = Safetensors.header(file).metadata();
        if (!TrainingCheckpoint.isResumable(meta)) {
            throw usage.apply("--resume " + file + " is not a --checkpoint file (it holds a model only)");
        }
        for (Map.Entry<String, String> e : options().entrySet()) {
            String saved = meta.get(PREFIX + e.getKey());
            if (!e.getValue().equals(saved)) {
                throw usage.apply("--resume " + file + " was written by a run with " + (e.getKey().equals("data")
                        ? "data " : "--" + e.getKey() + " ") + saved + ", and this one has " + e.getValue());
            }
        }
        int saved = TrainingCheckpoint.epochsDone(meta);
        if (saved >= epochs) {
            throw usage.apply("--resume " + file + " has " + saved + " epochs done already; ask for more with --epochs");
        }
        int done = TrainingCheckpoint.restore(file, trainer);
        try {
            JsonArray points = JsonParser.parseString(meta.getOrDefault(HISTORY, "[]")).getAsJsonArray();
            for (JsonElement p : points) {
                history.add(new Gson().fromJson(p, TrainingChart.Point.class));
            }
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": malformed " + HISTORY + " (" + e.getMessage() + ")");
        }
        return done;
    }
}
