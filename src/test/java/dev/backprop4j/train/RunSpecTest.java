package dev.backprop4j.train;

import dev.backprop4j.data.DataSource;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.data.TabularEncoding;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.CheckpointException;
import dev.backprop4j.nn.Norm;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.Sgd;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The run description: what it builds, its round trip through a file's metadata and through Java serialization (to
 * Spark's tasks), the option a resumed run differs in, and a model file from elsewhere.
 */
class RunSpecTest {
    private static final Path FILE = Path.of("run.safetensors");

    private static RunSpec spec() {
        Dataset.Split split = new Dataset.Split(new Dataset(new float[12], new int[] {0, 1, 2, 3}, 3, 5),
                new Dataset(new float[3], new int[] {6}, 3, 7));
        return RunSpec.builder().data(DataSource.csv(Path.of("d.csv"), 2)).hidden(8, 4).activation(Activation.GELU)
                .optimizer(RunSpec.OptimizerKind.SGD).lr(0.05).momentum(0.5).weightDecay(1e-4)
                .schedule(RunSpec.Schedule.CONSTANT).batch(16).epochs(3).seed(7).limit(100)
                .plan(new TrainingPlan(0.1, 4, 0.2, 16, 5, true, dev.backprop4j.tensor.Autocast.Precision.BF16)).build().fittedTo(split);
    }

    @Test
    void itBuildsTheModelTheOptimizerAndTheSchedule() {
        RunSpec s = spec();
        assertArrayEquals(new int[] {3, 8, 4, 7}, s.sizes(), "input width and classes from the data");
        assertEquals("3-8-4-7", s.layersText());
        assertEquals(3 * 8 + 8 + 8 * 4 + 4 + 4 * 7 + 7, s.parameterCount());
        try (var model = s.newModel(dev.backprop4j.core.Device.CPU); var opt = s.newOptimizer(model)) {
            assertInstanceOf(Sgd.class, opt);
            assertEquals(0.05, opt.lr());
            assertEquals(s.parameterCount(), model.parameterCount());
        }
        assertEquals(0.05, s.lrSchedule(10).at(29));
        RunSpec adamw = RunSpec.builder().optimizer(RunSpec.OptimizerKind.ADAMW).build();
        assertEquals(0.01, adamw.weightDecay(), "AdamW's default, PyTorch's");
        assertEquals(0.0, RunSpec.builder().build().weightDecay());
        assertEquals(RunSpec.Schedule.COSINE, RunSpec.builder().build().schedule(), "the train command's default");
    }

    /** --warmup raises the rate over its steps before either schedule; --decay matrices spares biases. */
    @Test
    void warmupAndDecayGroupsShapeTheOptimizer() {
        RunSpec s = spec(); // constant schedule, warmup 5, lr 0.05
        assertEquals(0.01, s.lrSchedule(10).at(0), 1e-15);
        assertEquals(0.05, s.lrSchedule(10).at(4), 1e-15);
        assertEquals(0.05, s.lrSchedule(10).at(5), 1e-15);
        RunSpec cosine = s.toBuilder().schedule(RunSpec.Schedule.COSINE).build();
        assertEquals(0.05, cosine.lrSchedule(10).at(5), 1e-15);
        assertEquals(0.05 * (1 + Math.cos(Math.PI * 12 / 25)) / 2, cosine.lrSchedule(10).at(5 + 12), 1e-15,
                "cosine over the 30 - 5 steps after the warmup");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> s.toBuilder().epochs(1).build().lrSchedule(5));
        assertEquals("--warmup 5 must be shorter than the run's 5 steps", e.getMessage());

        RunSpec adamw = s.toBuilder().optimizer(RunSpec.OptimizerKind.ADAMW).weightDecay(0.5).build();
        try (var model = adamw.newModel(dev.backprop4j.core.Device.CPU); var opt = adamw.newOptimizer(model)) {
            Map<String, float[]> before = new java.util.LinkedHashMap<>();
            model.namedParameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
            model.parameters().forEach(p -> p.zeroGrad(false)); // zero gradients: AdamW's step is the decay alone
            opt.step();
            model.namedParameters().forEach((k, v) -> {
                float[] was = before.get(k);
                float[] now = v.toFloatArray();
                float factor = k.endsWith("weight") ? (float) (1 - 0.05 * 0.5) : 1;
                for (int i = 0; i < was.length; i++) {
                    assertEquals(was[i] * factor, now[i], 1e-6, k);
                }
            });
        }
    }

    @Test
    void itRoundTripsThroughMetadataAndSerialization() throws Exception {
        RunSpec s = spec();
        Map<String, String> meta = RunMetadata.of(s);
        assertEquals("3,8,4,7", meta.get(RunMetadata.LAYERS));
        assertEquals("gelu", meta.get(RunMetadata.ACTIVATION));
        RunSpec back = RunMetadata.read(meta, FILE);
        assertNull(back.differenceFrom(s));
        assertEquals(new TrainingPlan(0.1, 4, 0.2, 16, 5, true, dev.backprop4j.tensor.Autocast.Precision.BF16), back.plan());
        assertEquals(s.data(), back.data());
        assertArrayEquals(s.sizes(), back.sizes());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        }
        RunSpec shipped = (RunSpec) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
        assertNull(shipped.differenceFrom(s));
    }

    /** A residual MLP: its model, parameter names and shapes as built, and its round trip through metadata. */
    @Test
    void aResidualMlpIsDescribedBuiltAndReadBack() {
        RunSpec s = spec().toBuilder().architecture(Architecture.resMlp(6, 2, 3, Norm.LAYER)).build();
        assertArrayEquals(new int[] {3, 6, 7}, s.sizes());
        assertEquals("3-6x2-7", s.layersText());
        for (Norm norm : Norm.values()) {
            RunSpec r = s.toBuilder().architecture(Architecture.resMlp(6, 2, 3, norm)).build();
            try (var model = r.newModel(dev.backprop4j.core.Device.CPU)) {
                Map<String, Checkpoint.Expected> built = new java.util.LinkedHashMap<>();
                model.stateDict().forEach((k, v) -> built.put(k, new Checkpoint.Expected(v.shape(), v.dtype())));
                assertEquals(built, r.stateShapes(), "the tensors a file is checked against are the model's");
                assertEquals(model.parameterCount(), r.parameterCount());
                assertEquals(r.architecture(), RunMetadata.read(RunMetadata.of(r), FILE).architecture());
            }
        }
        Map<String, String> meta = RunMetadata.of(s);
        assertEquals("3,6,7", meta.get(RunMetadata.LAYERS));
        assertEquals("resmlp", meta.get(RunMetadata.MODEL));
        RunSpec back = RunMetadata.read(meta, FILE);
        assertEquals(s.architecture(), back.architecture());
        assertNull(back.differenceFrom(s));
        assertEquals("--model resmlp, and this one has mlp", spec().differenceFrom(s));
        meta.put(RunMetadata.BLOCKS, "two");
        CheckpointException e = assertThrows(CheckpointException.class, () -> RunMetadata.read(meta, FILE));
        assertTrue(e.getMessage().contains(RunMetadata.BLOCKS + " = 'two'"), e.getMessage());
    }

    /** An MLP with a norm after each hidden Linear and dropout, and a residual MLP with dropout, built and read back. */
    @Test
    void normsAndDropoutPlaceTheirLayersAsPyTorchNamesThem() {
        Architecture[] all = {Architecture.mlp(8, 4).withNorm(Norm.BATCH), Architecture.mlp(8, 4).withDropout(0.25),
            Architecture.mlp(8, 4).withNorm(Norm.LAYER).withDropout(0.1),
            Architecture.resMlp(6, 2, 3, Norm.LAYER).withDropout(0.2)};
        for (Architecture a : all) {
            RunSpec r = spec().toBuilder().architecture(a).build();
            try (var model = r.newModel(dev.backprop4j.core.Device.CPU)) {
                Map<String, Checkpoint.Expected> built = new java.util.LinkedHashMap<>();
                model.stateDict().forEach((k, v) -> built.put(k, new Checkpoint.Expected(v.shape(), v.dtype())));
                assertEquals(built, r.stateShapes(), a.toString());
                assertEquals(r.architecture(), RunMetadata.read(RunMetadata.of(r), FILE).architecture());
            }
        }
        RunSpec bn = spec().toBuilder().architecture(all[0]).build();
        assertEquals(java.util.List.of("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked", "3.weight", "3.bias", "4.weight", "4.bias", "4.running_mean", "4.running_var",
                "4.num_batches_tracked", "6.weight", "6.bias"), new java.util.ArrayList<>(bn.stateShapes().keySet()),
                "nn.Sequential(Linear, BatchNorm1d, ReLU, Linear, BatchNorm1d, ReLU, Linear)");
        assertEquals("--norm none, and this one has batch", bn.differenceFrom(spec()));
        assertEquals("--dropout 0.0, and this one has 0.25", spec().toBuilder().architecture(all[1]).build()
                .differenceFrom(spec()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Architecture.mlp(8).withDropout(1));
        assertEquals("--dropout must be in [0, 1), got 1.0", e.getMessage());
    }

    /** A table's model: the embeddings in front of either body, named, checked and read back with its encoding. */
    @Test
    void aTablesModelKeepsItsEncodingAndEmbedsItsCategories() throws Exception {
        TabularEncoding enc = TabularEncoding.fromJson("{\"columns\":[\"a\",\"colour\",\"b\",\"y\"],\"label\":3,"
                + "\"vocabularies\":[null,[\"blue\",\"red\"],null,null],\"mean\":[1,0,2,0],\"deviation\":[1,1,3,1],"
                + "\"classes\":[\"no\",\"yes\"]}", FILE);
        Dataset.Split split = new Dataset.Split(new Dataset(new float[6], new int[] {0, 1}, 3, 2),
                new Dataset(new float[3], new int[] {1}, 3, 2), enc);
        for (Architecture a : new Architecture[] {Architecture.mlp(8), Architecture.resMlp(6, 1, 2, Norm.LAYER)}) {
            RunSpec s = RunSpec.builder().data(DataSource.table(Path.of("t.csv"), -1, "colour")).architecture(a)
                    .build().fittedTo(split);
            assertEquals(enc, s.architecture().tabular());
            try (var model = s.newModel(dev.backprop4j.core.Device.CPU)) {
                Map<String, Checkpoint.Expected> built = new java.util.LinkedHashMap<>();
                model.stateDict().forEach((k, v) -> built.put(k, new Checkpoint.Expected(v.shape(), v.dtype())));
                assertEquals(built, s.stateShapes());
                assertEquals(dev.backprop4j.core.Shape.of(3, 3), built.get("0.embeddings.0.weight").shape(),
                        "blue, red and the unknown code, 3 wide (min(32, round(1.6 * 3^0.56)))");
                assertEquals(model.parameterCount(), s.parameterCount());
                float[] out = model.forward(dev.backprop4j.tensor.Tensor.of(new float[] {0.5f, -1f, 2f, 0.5f, 1f, 0f},
                        2, 3)).toFloatArray();
                assertEquals(4, out.length, "two rows of two classes from 2 numbers and a code each");
            }
            Map<String, String> meta = RunMetadata.of(s);
            assertEquals(enc.toJson(), meta.get(RunMetadata.TABULAR));
            RunSpec back = RunMetadata.read(meta, FILE);
            assertEquals(s.architecture(), back.architecture());
            assertEquals(s.data(), back.data());
            assertNull(back.differenceFrom(s));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
                o.writeObject(s);
            }
            RunSpec shipped = (RunSpec) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
            assertEquals(s.architecture(), shipped.architecture());
            meta.put(RunMetadata.TABULAR, "{\"columns\": 3}");
            CheckpointException e = assertThrows(CheckpointException.class, () -> RunMetadata.read(meta, FILE));
            assertTrue(e.getMessage().contains(RunMetadata.TABULAR), e.getMessage());
        }
    }

    @Test
    void aResumedRunMayOnlyAddEpochs() {
        RunSpec s = spec();
        assertNull(s.toBuilder().epochs(9).build().differenceFrom(s));
        assertEquals("--batch 16, and this one has 32", s.toBuilder().batch(32).build().differenceFrom(s));
        assertEquals("--momentum 0.5, and this one has 0.9", s.toBuilder().momentum(0.9).build().differenceFrom(s));
        assertTrue(s.toBuilder().data(DataSource.embeddedMnist()).build().differenceFrom(s)
                .startsWith("data " + java.nio.file.Path.of("d.csv").toAbsolutePath()));
    }

    @Test
    void aModelFromElsewhereNeedsItsLayersAndActivation() {
        RunSpec foreign = RunMetadata.read(Map.of(RunMetadata.LAYERS, "4,2", RunMetadata.ACTIVATION, "tanh"), FILE);
        assertArrayEquals(new int[] {4, 2}, foreign.sizes());
        assertNull(foreign.data(), "a model file that does not say where its data came from");
        assertEquals(42, foreign.seed(), "the split seed of files that do not store one");
        CheckpointException none = assertThrows(CheckpointException.class, () -> RunMetadata.read(Map.of(), FILE));
        assertTrue(none.getMessage().contains(RunMetadata.LAYERS) && none.getMessage().contains("784,256,128,10"),
                none.getMessage());
        Map<String, String> bad = new HashMap<>(RunMetadata.of(spec()));
        bad.put(RunMetadata.RUN + "batch", "-3");
        CheckpointException wrong = assertThrows(CheckpointException.class, () -> RunMetadata.read(bad, FILE));
        assertTrue(wrong.getMessage().contains("backprop4j.run.batch = '-3' is malformed (--batch must be at least 1"),
                wrong.getMessage());
    }

    @Test
    void optimizersFromTheSpecAreThoseOfTheirKind() {
        RunSpec s = RunSpec.builder().optimizer(RunSpec.OptimizerKind.ADAMW).build().fittedTo(new Dataset.Split(
                new Dataset(new float[2], new int[] {0}, 2, 2), new Dataset(new float[2], new int[] {1}, 2, 2)));
        try (var model = s.newModel(dev.backprop4j.core.Device.CPU); var opt = s.newOptimizer(model)) {
            assertInstanceOf(AdamW.class, opt);
        }
    }
}
