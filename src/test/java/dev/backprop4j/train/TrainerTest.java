package dev.backprop4j.train;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training loop on the CPU: when the listener hears (every readEvery steps, and once at the end with the exact
 * totals), that the running loss and accuracy are those of the batches as they were trained on, that the schedule
 * sets every step's rate, and what a gradient hook sees (every parameter with a gradient, the rows, the batch).
 */
class TrainerTest {
    private static final int ROWS = 10 * 8 + 3; // ten batches of 8 and a partial one of 3

    private static Dataset data() {
        Random r = new Random(3);
        float[] x = new float[ROWS * 4];
        int[] y = new int[ROWS];
        for (int i = 0; i < ROWS; i++) {
            for (int j = 0; j < 4; j++) {
                x[i * 4 + j] = (float) r.nextGaussian();
            }
            y[i] = x[i * 4] > 0 ? 1 : 0;
        }
        return new Dataset(x, y, 4, 2);
    }

    private static Sequential model() {
        return Mlp.of(4, 6, 2).activation(Activation.TANH).seed(5).build();
    }

    private record Heard(int batch, int batches, double loss, double accuracy, long samples) {
    }

    @Test
    void theListenerHearsEveryFewStepsAndTheExactTotalsAtTheEnd() {
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1);
             Trainer t = new Trainer(m, sgd).readEvery(4)) {
            List<Heard> heard = new ArrayList<>();
            Trainer.EpochStats stats = t.epoch(new DataLoader(data(), 8, true, 1, false, Device.CPU), 1,
                    (b, n, loss, acc, samples) -> heard.add(new Heard(b, n, loss, acc, samples)));
            List<Integer> batches = heard.stream().map(Heard::batch).toList();
            assertEquals(List.of(4, 8, 11), batches, "every 4 steps (the CPU's reads finish at once), then the end");
            Heard last = heard.get(heard.size() - 1);
            assertEquals(11, last.batches());
            assertEquals(ROWS, last.samples());
            assertEquals(32, heard.get(0).samples());
            assertEquals(stats.loss(), last.loss(), 0);
            assertEquals(stats.accuracy(), last.accuracy(), 0);
            assertEquals(ROWS, stats.samples());
            assertEquals(11, t.stepsDone());
        }
    }

    /**
     * The epoch's loss is the row-weighted mean of every batch's loss as it was trained on (before its update), and
     * its accuracy the share of rows predicted right then: replayed step by step with {@link Trainer#step}.
     */
    @Test
    void theRunningTotalsAreThoseOfTheBatchesAsTheyWereTrained() {
        DataLoader loader = new DataLoader(data(), 8, true, 1, false, Device.CPU);
        Trainer.EpochStats running;
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1); Trainer t = new Trainer(m, sgd)) {
            running = t.epoch(loader, 1, null);
        }
        double lossSum = 0;
        long correct = 0;
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1); Trainer t = new Trainer(m, sgd)) {
            for (DataLoader.Batch b : loader.epoch(1)) {
                try (b) {
                    Trainer.StepResult r = t.step(b.x(), b.y());
                    lossSum += r.loss() * r.samples();
                    correct += r.correct();
                }
            }
        }
        assertEquals(lossSum / ROWS, running.loss(), 1e-6);
        assertEquals((double) correct / ROWS, running.accuracy(), 0);
    }

    @Test
    void theScheduleSetsEveryStepsRate() {
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 1); Trainer t = new Trainer(m, sgd)) {
            t.schedule(step -> 0.5 / (1 + step));
            List<Double> rates = new ArrayList<>();
            t.gradients((parameters, rows, batchRows) -> rates.add(sgd.lr()));
            t.epoch(new DataLoader(data(), 8, true, 1, false, Device.CPU), 1, null);
            assertEquals(11, rates.size());
            for (int i = 0; i < rates.size(); i++) {
                assertEquals(0.5 / (1 + i), rates.get(i), 0, "step " + i);
            }
            t.resumeAt(100).schedule(LrSchedule.constant(0.25));
            assertEquals(100, t.stepsDone());
        }
    }

    /** A hook sees every parameter with a gradient, after the backward and before the update. */
    @Test
    void aGradientHookSeesEveryParametersGradientBeforeTheUpdate() {
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1); Trainer t = new Trainer(m, sgd)) {
            List<int[]> calls = new ArrayList<>();
            double[] ended = new double[3];
            t.gradients(new GradientHook() {
                @Override
                public void gradients(List<Tensor> parameters, int rows, int batchRows) {
                    for (Tensor p : parameters) {
                        assertNotNull(p.grad(), p.describe());
                    }
                    float before = parameters.get(0).toFloatArray()[0];
                    calls.add(new int[] {rows, batchRows, Float.floatToIntBits(before)});
                }

                @Override
                public void epochEnd(int epoch, double[] totals) {
                    System.arraycopy(totals, 0, ended, 0, 3);
                    totals[2] *= 2; // the hook's totals are the epoch's
                }
            });
            float first = m.parameters().get(0).toFloatArray()[0];
            Trainer.EpochStats s = t.epoch(new DataLoader(data(), 8, false, 1, false, Device.CPU), 1, null);
            assertEquals(11, calls.size());
            assertEquals(8, calls.get(0)[0]);
            assertEquals(3, calls.get(10)[0]);
            assertEquals(Float.floatToIntBits(first), calls.get(0)[2], "the hook runs before the first update");
            assertEquals(ROWS, ended[2]);
            assertEquals(2L * ROWS, s.samples());
        }
    }

    /**
     * A batch of 11 rows in 3 micro-batches (4, 4 and 3 rows) takes the step one pass over the 11 takes, to float64
     * rounding, and the running loss and accuracy are the batch's; accumulation is also refused below 1.
     */
    @Test
    void accumulatedMicroBatchesTakeTheBatchsStep() {
        Tensor x = Tensor.randn(new dev.backprop4j.core.Generator(7), dev.backprop4j.core.Shape.of(11, 4),
                dev.backprop4j.core.DType.FLOAT64, Device.CPU);
        Tensor y = Tensor.of(new int[] {0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0}, 11);
        List<double[]> params = new ArrayList<>();
        List<Trainer.StepResult> results = new ArrayList<>();
        for (int parts : new int[] {1, 3}) {
            try (Sequential m = Mlp.of(4, 6, 2).activation(Activation.TANH).seed(5)
                    .dtype(dev.backprop4j.core.DType.FLOAT64).build();
                 dev.backprop4j.optim.Adam adam = new dev.backprop4j.optim.Adam(m.parameters(), 0.01);
                 Trainer t = new Trainer(m, adam).accumulate(parts)) {
                t.step(x, y);
                results.add(t.step(x, y));
                params.add(m.parameters().get(0).toDoubleArray());
            }
        }
        assertArrayEquals(params.get(0), params.get(1), 1e-12);
        assertEquals(results.get(0).loss(), results.get(1).loss(), 1e-12);
        assertEquals(results.get(0).correct(), results.get(1).correct());
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1); Trainer t = new Trainer(m, sgd)) {
            assertThrows(IllegalArgumentException.class, () -> t.accumulate(0));
        }
    }

    /** Early stopping keeps the best epoch's weights and says when patience ran out. */
    @Test
    void earlyStoppingKeepsTheBestWeights() {
        try (Sequential m = model(); EarlyStopping stop = new EarlyStopping(m, 2)) {
            Tensor w = m.parameters().get(0);
            float[] atBest = w.toFloatArray();
            assertTrue(stop.update(1, 0.5));
            try (GradMode.Guard off = GradMode.noGrad()) {
                w.copyFrom(w.mul(3));
            }
            assertTrue(!stop.update(2, 0.6) && !stop.shouldStop());
            assertTrue(!stop.update(3, 0.5) && stop.shouldStop(), "equal is not lower");
            stop.restoreBest();
            assertArrayEquals(atBest, w.toFloatArray());
            assertEquals(1, stop.bestEpoch());
            assertEquals(0.5, stop.bestLoss());
        }
    }

    /** With a hook, a single step must say how many rows the batch has over all processes. */
    @Test
    void aStepWithAHookNamesTheBatchsRowsOverAllProcesses() {
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1); Trainer t = new Trainer(m, sgd)) {
            List<int[]> calls = new ArrayList<>();
            t.gradients((parameters, rows, batchRows) -> calls.add(new int[] {rows, batchRows}));
            Tensor x = Tensor.randn(4, 4);
            Tensor y = Tensor.of(new int[] {0, 1, 1, 0}, 4);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.step(x, y));
            assertTrue(e.getMessage().contains("step(x, y, batchRows)"), e.getMessage());
            assertEquals(4, t.step(x, y, 12).samples());
            assertArrayEquals(new int[] {4, 12}, calls.get(0));
            assertThrows(IllegalArgumentException.class, () -> t.step(x, y, 3));
            assertEquals(1, t.stepsDone());
        }
    }

    /** Clipping on the CPU: the step's gradients are scaled to the bound before the update, as PyTorch does. */
    @Test
    void clippingBoundsTheGradientsNormBeforeTheUpdate() {
        try (Sequential m = model(); Sgd sgd = new Sgd(m.parameters(), 0.1);
             Trainer t = new Trainer(m, sgd).clipNorm(1e-3)) {
            double[] norm = new double[1];
            Tensor x = Tensor.randn(4, 4);
            Tensor y = Tensor.of(new int[] {0, 1, 1, 0}, 4);
            float before = m.parameters().get(0).toFloatArray()[0];
            t.step(x, y);
            try (GradMode.Guard off = GradMode.noGrad()) {
                for (Tensor p : m.parameters()) {
                    for (float g : p.grad().toFloatArray()) {
                        norm[0] += (double) g * g;
                    }
                }
            }
            assertTrue(Math.sqrt(norm[0]) <= 1e-3 * (1 + 1e-5), "clipped to the bound: " + Math.sqrt(norm[0]));
            float after = m.parameters().get(0).toFloatArray()[0];
            assertTrue(Math.abs(after - before) <= 0.1 * 1e-3 * 1.0001, "the update moved by at most lr x the bound");
        }
    }
    /**
     * The loss curve of a wide model under bfloat16 autocast follows float32's: the same initial weights and
     * batches, 4 epochs, each epoch's mean training loss within 3% of float32's, and both falling.
     */
    @Test
    void aWideModelsBf16LossCurveFollowsFloat32s() {
        Random rnd = new Random(5);
        int n = 768;
        int features = 48;
        float[] x = new float[n * features];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < features; j++) {
                x[i * features + j] = (float) rnd.nextGaussian();
                s += (j % 3 == 0 ? 1 : -0.5) * x[i * features + j];
            }
            y[i] = s > 1 ? 2 : s > -1 ? 1 : 0;
        }
        Dataset data = new Dataset(x, y, features, 3);
        double[][] curves = new double[2][4];
        for (int mode = 0; mode < 2; mode++) {
            try (Sequential model = Mlp.of(features, 1024, 1024, 3).seed(9).build();
                 dev.backprop4j.optim.Adam adam = new dev.backprop4j.optim.Adam(model.parameters(), 1e-3);
                 Trainer trainer = new Trainer(model, adam).precision(mode == 1
                         ? dev.backprop4j.tensor.Autocast.Precision.BF16 : dev.backprop4j.tensor.Autocast.Precision.FP32)) {
                DataLoader loader = new DataLoader(data, 64, true, 3, false, Device.CPU);
                for (int e = 0; e < 4; e++) {
                    curves[mode][e] = trainer.epoch(loader, e, null).loss();
                }
            }
        }
        for (int e = 0; e < 4; e++) {
            assertEquals(curves[0][e], curves[1][e], 0.03 * curves[0][e], "epoch " + e + ": fp32 "
                    + java.util.Arrays.toString(curves[0]) + ", bf16 " + java.util.Arrays.toString(curves[1]));
        }
        assertTrue(curves[1][3] < 0.5 * curves[1][0], "it learns: " + java.util.Arrays.toString(curves[1]));
        assertTrue(curves[0][0] != curves[1][0], "bf16 rounding changed the numbers");
    }
}
