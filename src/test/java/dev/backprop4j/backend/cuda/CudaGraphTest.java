package dev.backprop4j.backend.cuda;

import dev.backprop4j.ScopePerTest;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.distributed.DataParallel;
import dev.backprop4j.distributed.InProcessCollective;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Module;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static dev.backprop4j.ScopePerTest.closeAfter;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * CUDA graphs: a training step captured once and replayed per batch computes bit for bit what eager steps compute
 * (same kernels, same order, same addresses read), with schedules and Adam's step counts read from the device, a
 * partial last batch run eagerly, and one launch per replayed step. Runs on the emulator in CI and on a GPU.
 */
@Tag("gpu")
@ExtendWith(ScopePerTest.class)
class CudaGraphTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
    }

    private static DataLoader loader(int rows, int features, int classes, int batch) {
        Random random = new Random(11);
        float[] x = new float[rows * features];
        int[] y = new int[rows];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < rows; i++) {
            y[i] = random.nextInt(classes);
        }
        return new DataLoader(new Dataset(x, y, features, classes), batch, true, 5, false, GPU);
    }

    private static List<float[]> train(boolean graph, Function<Sequential, Optimizer> optimizer, LrSchedule schedule) {
        return train(graph, optimizer, schedule, 0, 0);
    }

    private static List<float[]> train(boolean graph, Function<Sequential, Optimizer> optimizer, LrSchedule schedule,
                                       double dropout, double clip) {
        return train(graph, optimizer, schedule, dropout, clip, false);
    }

    /**
     * Trains 2 epochs (with dropout, clipping and a one-rank data-parallel hook as asked) and returns every
     * parameter's values, with the epochs' losses last.
     */
    private static List<float[]> train(boolean graph, Function<Sequential, Optimizer> optimizer, LrSchedule schedule,
                                       double dropout, double clip, boolean hook) {
        Sequential model = closeAfter(Mlp.of(12, 16, 8, 3).activation(Activation.TANH).dropout(dropout).seed(4)
                .device(GPU).build());
        Trainer trainer = closeAfter(new Trainer(model, closeAfter(optimizer.apply(model)))).cudaGraph(graph)
                .readEvery(2).clipNorm(clip);
        if (schedule != null) {
            trainer.schedule(schedule);
        }
        if (hook) {
            DataParallel dp = new DataParallel(InProcessCollective.group(1).get(0));
            trainer.gradients(dp);
            dp.broadcast(trainer);
        }
        DataLoader data = loader(8 * 5 + 3, 12, 3, 8); // five full batches and a partial one
        List<float[]> out = new ArrayList<>();
        float[] losses = new float[2];
        for (int e = 1; e <= 2; e++) {
            losses[e - 1] = (float) trainer.epoch(data, e, null).loss();
        }
        for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
            out.add(p.getValue().toFloatArray());
        }
        out.add(losses);
        if (graph) {
            long[] counts = trainer.graphCounts();
            // per epoch: the first batch eager (a new shape), the second captured and replayed, the partial one eager
            assertEquals(2 * 4, counts[0], "replayed steps");
            assertEquals(2, counts[1], "captures");
        }
        return out;
    }

    private static void assertSameTraining(List<float[]> eager, List<float[]> graphed) {
        assertEquals(eager.size(), graphed.size());
        for (int i = 0; i < eager.size(); i++) {
            assertArrayEquals(eager.get(i), graphed.get(i), "parameter or loss " + i + " differs");
        }
    }

    @Test
    void replayedSgdStepsAreBitIdenticalToEagerOnes() {
        Function<Sequential, Optimizer> sgd = m -> new Sgd(m.parameters(), 0.05).momentum(0.9);
        assertSameTraining(train(false, sgd, null), train(true, sgd, null));
    }

    /** Adam's bias corrections and a decaying learning rate change every step: both are device values. */
    @Test
    void replayedAdamStepsUnderAScheduleAreBitIdenticalToEagerOnes() {
        Function<Sequential, Optimizer> adam = m -> new Adam(m.parameters(), 1e-2);
        LrSchedule decay = LrSchedule.step(1e-2, 3, 0.5);
        assertSameTraining(train(false, adam, decay), train(true, adam, decay));
    }

    /** The MNIST model graphed: one graph launch per step, nothing else launched, no wait, no allocation. */
    @Test
    void aReplayedMnistStepIsOneLaunch() {
        assumeTrue(CudaEmulator.counters() != null, "counts need the CUDA emulator");
        Sequential model = closeAfter(Mlp.of(784, 256, 128, 10).activation(Activation.RELU).seed(1).device(GPU)
                .build());
        Trainer trainer = closeAfter(new Trainer(model, closeAfter(new Adam(model.parameters(), 1e-3))))
                .cudaGraph(true).readEvery(4);
        DataLoader data = loader(64 * 13, 784, 10, 64);
        List<CudaEmulator.Counters> atReads = new ArrayList<>();
        List<Integer> batches = new ArrayList<>();
        trainer.epoch(data, 1, (i, n, loss, acc, samples) -> {
            atReads.add(CudaEmulator.counters());
            batches.add(i);
        });
        assertEquals(4, batches.get(2) - batches.get(1), batches.toString());
        CudaEmulator.Counters four = atReads.get(2).minus(atReads.get(1));
        System.out.println("CudaGraphTest: 4 graphed MNIST steps (784-256-128-10, batch 64, Adam): " + four);
        assertEquals(4, four.graphLaunches(), four.toString());
        assertEquals(0, four.launches(), "no kernel launched outside the graph: " + four);
        assertEquals(0, four.cublasCalls(), four.toString());
        assertEquals(0, four.hostWaits(), four.toString());
        assertEquals(0, four.allocations(), four.toString());
        assertEquals(4 * 11, four.graphKernels(), "the eager step's 11 kernels, replayed: " + four);
    }

    @Test
    void aCaptureThatWaitsForTheDeviceFailsAndLeavesNothingBehind() {
        Tensor x = Tensor.randn(new Generator(1), Shape.of(100), DType.FLOAT32, GPU);
        CudaBackend backend = (CudaBackend) x.backend();
        Exception e = assertThrows(RuntimeException.class, () -> backend.capture(() -> x.add(1).sum().item()));
        assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
        float[] after = x.add(1).toFloatArray();
        assertEquals(x.toFloatArray()[0] + 1, after[0], 1e-6f, "the stream works after the failed capture");
    }

    /** An upload inside a capture would replay whatever its staging buffer holds later: refused, naming why. */
    @Test
    void aCaptureThatCopiesFromTheHostIsRefused() {
        Tensor x = Tensor.randn(new Generator(1), Shape.of(10), DType.FLOAT32, GPU);
        CudaBackend backend = (CudaBackend) x.backend();
        Exception e = assertThrows(IllegalStateException.class,
                () -> backend.capture(() -> x.add(Tensor.of(new float[10], 10).to(GPU))));
        assertTrue(e.getMessage().contains("cannot be captured in a CUDA graph"), e.getMessage());
        assertEquals(x.toFloatArray()[3] + 1, x.add(1).toFloatArray()[3], 1e-6f);
    }

    @Test
    void graphsNeedACudaDevice() {
        Sequential cpuModel = closeAfter(Mlp.of(4, 3).seed(1).build());
        Trainer onCpu = closeAfter(new Trainer(cpuModel, new Sgd(cpuModel.parameters(), 0.1))).cudaGraph(true);
        DataLoader cpuData = new DataLoader(new Dataset(new float[8], new int[2], 4, 3), 2, false, 1, false, Device.CPU);
        assertTrue(assertThrows(IllegalStateException.class, () -> onCpu.epoch(cpuData, 1, null)).getMessage()
                .contains("CUDA graphs need a CUDA device"));
    }

    /**
     * Clipping (the norm computed and applied on the device) and dropout (masks drawn from a counter on the device)
     * under replay: every replay clips with its own norm and draws a new mask, bit for bit as eager steps do.
     */
    @Test
    void replayedStepsWithClippingAndDropoutAreBitIdenticalToEagerOnes() {
        Function<Sequential, Optimizer> adam = m -> new Adam(m.parameters(), 1e-2);
        assertSameTraining(train(false, adam, null, 0.3, 0.05), train(true, adam, null, 0.3, 0.05));
    }

    /**
     * With a gradient hook (data-parallel training's all-reduce, here of one rank) the step is two graphs, the hook
     * running eagerly between their replays: still bit for bit the eager steps.
     */
    @Test
    void aStepSplitByAGradientHookReplaysAsTwoGraphs() {
        Function<Sequential, Optimizer> sgd = m -> new Sgd(m.parameters(), 0.05).momentum(0.9);
        List<float[]> eager = train(false, sgd, null, 0, 0.5, true);
        List<float[]> graphed = train(true, sgd, null, 0, 0.5, true);
        assertSameTraining(eager, graphed);
    }

    /** An MLP with one more parameter that the loss never reaches. */
    private static final class WithUnusedParameter extends Module {
        private final Sequential body;

        WithUnusedParameter() {
            body = addModule("body", Mlp.of(12, 16, 3).seed(4).device(GPU).build());
            addParameter("unused", Tensor.ones(Shape.of(5), DType.FLOAT32, GPU));
        }

        @Override
        public Tensor forward(Tensor x) {
            return body.forward(x);
        }
    }

    /**
     * Graphed with a hook, a parameter the loss never reaches gets its zero gradient before the update's graph is
     * captured, as each eager step gives it one, so AdamW's decay moves it in both alike.
     */
    @Test
    void aParameterTheLossNeverReachesIsUpdatedAlikeGraphedOrNot() {
        List<float[]> runs = new ArrayList<>();
        for (boolean graph : new boolean[] {false, true}) {
            Module model = closeAfter(new WithUnusedParameter());
            Trainer trainer = closeAfter(new Trainer(model, closeAfter(new AdamW(model.parameters(), 1e-2))))
                    .cudaGraph(graph);
            trainer.gradients(new DataParallel(InProcessCollective.group(1).get(0)));
            DataLoader data = loader(8 * 5 + 3, 12, 3, 8);
            trainer.epoch(data, 1, null);
            runs.add(model.namedParameters().get("unused").toFloatArray());
        }
        assertTrue(runs.get(0)[0] < 1f, "decayed: " + runs.get(0)[0]);
        assertArrayEquals(runs.get(0), runs.get(1));
    }

    /** Micro-batches of accumulation replay as one graph per step, bit for bit as eager steps. */
    @Test
    void accumulatedStepsReplayBitIdentically() {
        List<float[]> runs = new ArrayList<>();
        for (boolean graph : new boolean[] {false, true}) {
            Sequential model = closeAfter(Mlp.of(12, 16, 3).seed(4).device(GPU).build());
            Trainer trainer = closeAfter(new Trainer(model, closeAfter(new Adam(model.parameters(), 1e-2))))
                    .cudaGraph(graph).accumulate(3);
            float loss = (float) trainer.epoch(loader(8 * 5 + 3, 12, 3, 8), 1, null).loss();
            runs.add(model.parameters().get(0).toFloatArray());
            runs.add(new float[] {loss});
            if (graph) {
                assertEquals(4, trainer.graphCounts()[0], "replayed steps");
            }
        }
        assertArrayEquals(runs.get(0), runs.get(2));
        assertArrayEquals(runs.get(1), runs.get(3));
    }

    /** An eager {@link Trainer#step} between graphed epochs drops the graph: the next epoch captures afresh. */
    @Test
    void anEagerStepBetweenGraphedEpochsKeepsTheTrainingBitIdentical() {
        List<float[]> runs = new ArrayList<>();
        for (boolean graph : new boolean[] {false, true}) {
            Sequential model = closeAfter(Mlp.of(12, 16, 3).seed(4).device(GPU).build());
            Trainer trainer = closeAfter(new Trainer(model, closeAfter(new Adam(model.parameters(), 1e-2))))
                    .cudaGraph(graph);
            DataLoader data = loader(8 * 5 + 3, 12, 3, 8);
            trainer.epoch(data, 1, null);
            try (DataLoader.Batch b = data.epoch(3).iterator().next()) {
                trainer.step(b.x(), b.y());
            }
            trainer.epoch(data, 2, null);
            runs.add(model.parameters().get(0).toFloatArray());
            if (graph) {
                assertEquals(2, trainer.graphCounts()[1], "captures: one per epoch");
            }
        }
        assertArrayEquals(runs.get(0), runs.get(1));
    }

    /**
     * The MNIST model with dropout and clipping graphed: still one graph launch per step and nothing else: the norm,
     * the clipping, the masks' counters and the step counts never leave the device.
     */
    @Test
    void aReplayedMnistStepWithClippingAndDropoutIsOneLaunch() {
        assumeTrue(CudaEmulator.counters() != null, "counts need the CUDA emulator");
        Sequential model = closeAfter(Mlp.of(784, 256, 128, 10).activation(Activation.RELU).dropout(0.1).seed(1)
                .device(GPU).build());
        Trainer trainer = closeAfter(new Trainer(model, closeAfter(new Adam(model.parameters(), 1e-3))))
                .cudaGraph(true).readEvery(4).clipNorm(1.0);
        DataLoader data = loader(64 * 13, 784, 10, 64);
        List<CudaEmulator.Counters> atReads = new ArrayList<>();
        trainer.epoch(data, 1, (i, n, loss, acc, samples) -> atReads.add(CudaEmulator.counters()));
        CudaEmulator.Counters four = atReads.get(2).minus(atReads.get(1));
        System.out.println("CudaGraphTest: 4 graphed MNIST steps with dropout and clipping: " + four);
        assertEquals(4, four.graphLaunches(), four.toString());
        assertEquals(0, four.launches(), "no kernel launched outside the graph: " + four);
        assertEquals(0, four.hostWaits(), four.toString());
        assertEquals(0, four.allocations(), four.toString());
    }
}
