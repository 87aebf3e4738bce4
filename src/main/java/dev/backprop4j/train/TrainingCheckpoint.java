package dev.backprop4j.train;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.backprop4j.core.Excerpt;
import dev.backprop4j.core.Generator;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.io.SafetensorsHeader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A whole training run in one safetensors file, written atomically, so that a run stopped after any epoch and
 * resumed gives the same parameters, bit for bit on the CPU, as one never stopped: the model's parameters (by their
 * state-dict names, so the file is also a plain model checkpoint), the optimizer's state tensors as
 * "optimizer.{parameter}.{state}" (PyTorch's names: momentum_buffer, exp_avg, exp_avg_sq), and in the metadata the
 * optimizer's kind and learning rate, each parameter's step count, the trainer's step (the schedule's position),
 * the epochs done, and the seeds and positions of the model's random generators (dropout's). Data order needs no state: the
 * loader shuffles each epoch from (seed, epoch).
 */
public final class TrainingCheckpoint {
    static final String PREFIX = "backprop4j.resume.";
    static final String OPTIMIZER = PREFIX + "optimizer";
    static final String LR = PREFIX + "lr";
    static final String STEPS = PREFIX + "param_steps";
    static final String TRAINER_STEP = PREFIX + "trainer_step";
    static final String EPOCHS_DONE = PREFIX + "epochs_done";
    static final String GENERATORS = PREFIX + "generators";
    /** The prefix of the optimizer's state tensors: "optimizer.{parameter}.{state}". */
    public static final String STATE_PREFIX = "optimizer.";
    private static final String STATE = STATE_PREFIX;

    private TrainingCheckpoint() {
    }

    /**
     * Writes the state of {@code trainer}'s run after {@code epochsDone} epochs (its model, its optimizer, its step),
     * with {@code metadata} (the model's description, the run's options) added; atomic, so a run killed while
     * writing leaves the previous file whole.
     */
    public static void save(Path file, Trainer trainer, int epochsDone, Map<String, String> metadata)
            throws IOException {
        Module model = trainer.model();
        Optimizer optimizer = trainer.optimizer();
        Optimizer.State state = optimizer.state(model.namedParameters());
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateDict());
        state.tensors().forEach((k, v) -> tensors.put(STATE + k, v));
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put(OPTIMIZER, optimizer.getClass().getSimpleName());
        meta.put(LR, Double.toString(optimizer.lr()));
        meta.put(STEPS, new Gson().toJson(new TreeMap<>(state.steps())));
        meta.put(TRAINER_STEP, Long.toString(trainer.stepsDone()));
        meta.put(EPOCHS_DONE, Integer.toString(epochsDone));
        Map<String, long[]> generators = new TreeMap<>();
        model.namedGenerators().forEach((path, g) -> generators.put(path, new long[] {g.seed(), g.position()}));
        meta.put(GENERATORS, new Gson().toJson(generators));
        Safetensors.write(file, tensors, meta);
    }

    /** The epochs a training checkpoint's metadata says were done, or -1 for a model-only file. */
    public static int epochsDone(Map<String, String> metadata) {
        try {
            return isResumable(metadata) ? Integer.parseInt(metadata.get(EPOCHS_DONE)) : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether {@code metadata} is a training checkpoint's (not a plain model's). */
    public static boolean isResumable(Map<String, String> metadata) {
        return metadata.containsKey(EPOCHS_DONE);
    }

    private static void requireMeta(Path file, boolean valid, String key, Object value) {
        if (!valid) {
            throw new CheckpointException(file + ": metadata " + key + " = " + value + " is out of range; the file "
                    + "was not written by a training run (nothing was restored)");
        }
    }

    /**
     * Restores a run from {@code file} into a trainer whose model and optimizer are built as the saved run built
     * them: the parameters, the optimizer's state, step counts and learning rate, the trainer's step (the schedule's
     * position) and the random generators' positions. Everything is checked (names, shapes, dtypes, the optimizer's
     * kind, the counts) before anything changes.
     *
     * @return the epochs done
     * @throws CheckpointException naming the file and what does not fit
     */
    public static int restore(Path file, Trainer trainer) throws IOException {
        Module model = trainer.model();
        Optimizer optimizer = trainer.optimizer();
        SafetensorsHeader h = Safetensors.header(file);
        Map<String, String> meta = h.metadata();
        if (!isResumable(meta)) {
            throw new CheckpointException(file + ": not a training checkpoint (no " + EPOCHS_DONE
                    + " in its metadata); it holds a model only, which evaluate and predict read");
        }
        String kind = optimizer.getClass().getSimpleName();
        if (!kind.equals(meta.get(OPTIMIZER))) {
            throw new CheckpointException(file + ": saved with optimizer " + meta.get(OPTIMIZER) + ", resumed with "
                    + kind);
        }
        Map<String, Tensor> named = model.namedParameters();
        Optimizer.State mine = optimizer.state(named);
        Map<String, Checkpoint.Expected> expected = new LinkedHashMap<>();
        model.stateDict().forEach((k, p) -> expected.put(k, new Checkpoint.Expected(p.shape(), p.dtype())));
        mine.tensors().forEach((k, t) -> expected.put(STATE + k, new Checkpoint.Expected(t.shape(), t.dtype())));
        Checkpoint.requireFits(file, h, expected);
        Map<String, Long> steps = new LinkedHashMap<>();
        Map<String, long[]> positions = new LinkedHashMap<>();
        long trainerStep;
        int epochs;
        double lr;
        try {
            JsonObject s = JsonParser.parseString(meta.get(STEPS)).getAsJsonObject();
            s.keySet().forEach(k -> steps.put(k, s.get(k).getAsLong()));
            JsonObject g = JsonParser.parseString(meta.getOrDefault(GENERATORS, "{}")).getAsJsonObject();
            g.keySet().forEach(k -> positions.put(k, new long[] {g.get(k).getAsJsonArray().get(0).getAsLong(),
                g.get(k).getAsJsonArray().get(1).getAsLong()}));
            trainerStep = Long.parseLong(meta.get(TRAINER_STEP));
            epochs = Integer.parseInt(meta.get(EPOCHS_DONE));
            lr = Double.parseDouble(meta.get(LR));
        } catch (RuntimeException e) {
            throw new CheckpointException(file + ": malformed resume metadata (" + Excerpt.of(e.getMessage()) + ")");
        }
        if (!steps.keySet().containsAll(named.keySet())) {
            throw new CheckpointException(file + ": no step count for " + named.keySet().stream()
                    .filter(k -> !steps.containsKey(k)).toList());
        }
        // everything is checked before anything changes
        requireMeta(file, trainerStep >= 0, TRAINER_STEP, trainerStep);
        requireMeta(file, epochs >= 0, EPOCHS_DONE, epochs);
        requireMeta(file, lr >= 0 && Double.isFinite(lr), LR, lr);
        for (Map.Entry<String, Long> e : steps.entrySet()) {
            requireMeta(file, e.getValue() >= 0, STEPS + " of " + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, long[]> e : positions.entrySet()) {
            requireMeta(file, e.getValue()[1] >= 0, GENERATORS + " position of " + e.getKey(), e.getValue()[1]);
        }
        Map<String, Generator> generators = model.namedGenerators();
        if (!generators.keySet().equals(positions.keySet())) {
            throw new CheckpointException(file + ": saved random generators " + positions.keySet()
                    + ", the model has " + generators.keySet());
        }
        for (String k : mine.tensors().keySet()) {
            Safetensors.requireFinite(file, h, STATE + k);
        }
        for (String k : named.keySet()) {
            Safetensors.requireFinite(file, h, k);
        }
        Map<String, Tensor> stateTensors = new LinkedHashMap<>();
        try {
            for (String k : mine.tensors().keySet()) {
                stateTensors.put(k, Safetensors.readTensor(file, h, STATE + k));
            }
            Checkpoint.readParameters(file, model, h);
            optimizer.restore(named, new Optimizer.State(stateTensors, steps));
        } finally {
            stateTensors.values().forEach(Tensor::close);
        }
        optimizer.setLr(lr);
        positions.forEach((path, p) -> generators.get(path).restore(p[0], p[1]));
        trainer.resumeAt(trainerStep);
        return epochs;
    }
}
