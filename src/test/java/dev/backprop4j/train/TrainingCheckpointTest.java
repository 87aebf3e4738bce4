package dev.backprop4j.train;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A training checkpoint is checked whole before anything changes: a negative step or epoch count, a learning rate
 * that is not a finite number >= 0, or a NaN in a parameter or in the optimizer's state is refused naming the file
 * and what is wrong, and the trainer it was restored into keeps its parameters.
 */
class TrainingCheckpointTest {
    @TempDir
    Path dir;

    private static Trainer trainer(long seed) {
        Sequential m = Mlp.of(4, 6, 3).seed(seed).build();
        return new Trainer(m, new Adam(m.parameters(), 1e-2));
    }

    /** A checkpoint of two steps, then written again with {@code change} applied to its metadata and tensors. */
    private Path checkpoint(String name, java.util.function.BiConsumer<Map<String, String>, Map<String, Tensor>> change)
            throws Exception {
        Trainer t = trainer(1);
        Tensor x = Tensor.randn(new Generator(2), Shape.of(5, 4), DType.FLOAT32, Device.CPU);
        Tensor y = Tensor.of(new int[] {0, 1, 2, 0, 1}, 5);
        t.step(x, y);
        t.step(x, y);
        Path f = dir.resolve(name);
        TrainingCheckpoint.save(f, t, 1, Map.of());
        Safetensors.Contents c = Safetensors.read(f);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        Map<String, Tensor> tensors = new LinkedHashMap<>(c.tensors());
        change.accept(meta, tensors);
        Safetensors.write(f, tensors, meta);
        return f;
    }

    private static List<float[]> parameters(Trainer t) {
        List<float[]> out = new ArrayList<>();
        t.model().parameters().forEach(p -> out.add(p.toFloatArray()));
        return out;
    }

    private void refused(String name, java.util.function.BiConsumer<Map<String, String>, Map<String, Tensor>> change,
                         String expected) throws Exception {
        Path f = checkpoint(name, change);
        Trainer fresh = trainer(9);
        List<float[]> before = parameters(fresh);
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.restore(f, fresh));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(expected), e.getMessage());
        List<float[]> after = parameters(fresh);
        for (int i = 0; i < before.size(); i++) {
            assertArrayEquals(before.get(i), after.get(i), "parameter " + i + " changed before the refusal");
        }
        assertEquals(0, fresh.stepsDone());
    }

    @Test
    void outOfRangeCountsAndRatesAreRefusedBeforeAnythingChanges() throws Exception {
        refused("step.safetensors", (m, t) -> m.put("backprop4j.resume.trainer_step", "-1"),
                "backprop4j.resume.trainer_step = -1 is out of range");
        refused("epochs.safetensors", (m, t) -> m.put("backprop4j.resume.epochs_done", "-1"),
                "backprop4j.resume.epochs_done = -1 is out of range");
        refused("lr.safetensors", (m, t) -> m.put("backprop4j.resume.lr", "Infinity"),
                "backprop4j.resume.lr = Infinity is out of range");
        refused("negative-lr.safetensors", (m, t) -> m.put("backprop4j.resume.lr", "-0.5"),
                "backprop4j.resume.lr = -0.5 is out of range");
        refused("counts.safetensors", (m, t) -> m.put("backprop4j.resume.param_steps",
                m.get("backprop4j.resume.param_steps").replace("\":2", "\":-2")), "out of range");
    }

    @Test
    void nanWeightsOrStateAreRefusedNamingTheTensor() throws Exception {
        refused("nan-weight.safetensors", (m, t) -> t.put("2.bias", Tensor.of(new float[] {0, Float.NaN, 1}, 3)),
                "tensor '2.bias' holds 1 NaN or infinite value (the first at element 1: NaN)");
        refused("inf-state.safetensors", (m, t) -> t.put("optimizer.0.weight.exp_avg_sq",
                Tensor.full(Double.POSITIVE_INFINITY, Shape.of(6, 4), DType.FLOAT32, Device.CPU)),
                "tensor 'optimizer.0.weight.exp_avg_sq' holds 24 NaN or infinite values");
    }

    @Test
    void aGoodCheckpointRestoresTheStepAndEpochs() throws Exception {
        Path f = checkpoint("good.safetensors", (m, t) -> { });
        Trainer fresh = trainer(9);
        assertEquals(1, TrainingCheckpoint.restore(f, fresh));
        assertEquals(2, fresh.stepsDone());
    }
}
