package dev.backprop4j.backend.cuda;

import dev.backprop4j.ScopePerTest;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.optim.Adam;
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

import static dev.backprop4j.ScopePerTest.closeAfter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Exact counts of device work, read from the CUDA emulator's counters: launches, cuBLAS calls, copies, host waits
 * and device allocations per operation and per training step. Counts are exact and repeatable where times are not,
 * so they are what CI can hold the GPU path to. Runs only on the emulator (the counters are its own).
 */
@Tag("gpu")
@ExtendWith(ScopePerTest.class)
class CudaCountsTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsTheEmulatorsCounters() {
        assumeTrue(CudaEmulator.counters() != null, "not running on the CUDA emulator with CUDA_EMU_COUNTERS set");
    }

    @Test
    void anElementwiseOpIsOneLaunchAndNoWait() {
        Tensor x = Tensor.randn(new Generator(1), Shape.of(1000), DType.FLOAT32, GPU);
        CudaEmulator.Counters before = CudaEmulator.counters();
        Tensor y = x.add(1);
        CudaEmulator.Counters d = CudaEmulator.counters().minus(before);
        assertEquals(1, d.launches(), d.toString());
        assertEquals(0, d.hostWaits(), d.toString());
        assertEquals(0, d.cublasCalls(), d.toString());
        before = CudaEmulator.counters();
        y.toFloatArray();
        d = CudaEmulator.counters().minus(before);
        assertEquals(1, d.copiesToHost(), d.toString());
        assertEquals(1, d.hostWaits(), "reading waits once: " + d);
    }

    @Test
    void aMatrixProductIsOneCublasCall() {
        Tensor a = Tensor.randn(new Generator(1), Shape.of(64, 32), DType.FLOAT32, GPU);
        Tensor b = Tensor.randn(new Generator(2), Shape.of(32, 16), DType.FLOAT32, GPU);
        CudaEmulator.Counters before = CudaEmulator.counters();
        a.matmul(b);
        CudaEmulator.Counters d = CudaEmulator.counters().minus(before);
        assertEquals(1, d.cublasCalls(), d.toString());
        assertEquals(0, d.launches(), d.toString());
    }

    /**
     * A residual block whose body ends in a Linear adds its skip path in that Linear's epilogue: two GEMMs and two
     * launches forward (bias + ReLU, bias + skip), where an add of its own would be a third; backward, the skip's
     * gradient is the upstream one, no launch.
     */
    @Test
    void aResidualBlockAddsItsInputInTheLastLayersEpilogue() {
        Generator gen = new Generator(3);
        dev.backprop4j.nn.Residual block = closeAfter(new dev.backprop4j.nn.Residual(new dev.backprop4j.nn.Sequential(
                new dev.backprop4j.nn.Linear(16, 32, true, dev.backprop4j.nn.Init.PYTORCH_DEFAULT, gen, DType.FLOAT32,
                        GPU), dev.backprop4j.nn.Activation.RELU.module(),
                new dev.backprop4j.nn.Linear(32, 16, true, dev.backprop4j.nn.Init.PYTORCH_DEFAULT, gen, DType.FLOAT32,
                        GPU))));
        Tensor x = Tensor.randn(gen, Shape.of(8, 16), DType.FLOAT32, GPU);
        CudaEmulator.Counters before = CudaEmulator.counters();
        Tensor y = block.forward(x);
        CudaEmulator.Counters d = CudaEmulator.counters().minus(before);
        assertEquals(2, d.cublasCalls(), d.toString());
        assertEquals(2, d.launches(), d.toString());
        Tensor expected = x.add(block.body().forward(x));
        float[] a = expected.toFloatArray();
        float[] b = y.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-6f * (1 + Math.abs(a[i])), "element " + i);
        }
    }

    /** What a steady training step does on the device, counted between two reads of the running totals. */
    private static CudaEmulator.Counters steadyStep(int[] sizes, int batch, boolean adam) {
        return steadyStep(sizes, batch, adam, 0);
    }

    /** {@link #steadyStep(int[], int, boolean)} with gradient clipping to {@code clip} (0: none). */
    private static CudaEmulator.Counters steadyStep(int[] sizes, int batch, boolean adam, double clip) {
        Sequential model = closeAfter(Mlp.of(sizes).activation(Activation.RELU).seed(1).device(GPU).build());
        Optimizer opt = closeAfter(adam ? new Adam(model.parameters(), 1e-3) : new Sgd(model.parameters(), 0.01));
        Trainer trainer = closeAfter(new Trainer(model, opt).readEvery(4).clipNorm(clip));
        int rows = batch * 13;
        java.util.Random random = new java.util.Random(3);
        float[] x = new float[rows * sizes[0]];
        int[] y = new int[rows];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < rows; i++) {
            y[i] = i % sizes[sizes.length - 1];
        }
        DataLoader loader = new DataLoader(new Dataset(x, y, sizes[0], sizes[sizes.length - 1]), batch, true, 5,
                false, GPU);
        List<CudaEmulator.Counters> atReads = new ArrayList<>();
        List<Integer> batchesAtReads = new ArrayList<>();
        for (int epoch = 1; epoch <= 2; epoch++) {
            atReads.clear();
            batchesAtReads.clear();
            trainer.epoch(loader, epoch, (i, n, loss, acc, samples) -> {
                atReads.add(CudaEmulator.counters());
                batchesAtReads.add(i);
            });
        }
        // reads 1 and 2 of the second epoch: 4 steady steps apart, each step also uploading its batch
        assertEquals(4, batchesAtReads.get(2) - batchesAtReads.get(1), batchesAtReads.toString());
        CudaEmulator.Counters four = atReads.get(2).minus(atReads.get(1));
        assertEquals(0, four.hostWaits() % 4 + four.launches() % 4 + four.cublasCalls() % 4, "not 4 equal steps: " + four);
        return four;
    }

    /**
     * The default MNIST model (784-256-128-10 ReLU, Adam) at batch 64: after the first steps every step does the
     * same work, the caching allocator serves every buffer, and nothing waits for the device: the loss and
     * accuracy stay on the device until a non-blocking read every few steps.
     */
    @Test
    void aSteadyMnistStepNeverWaitsAndAllocatesNothing() {
        CudaEmulator.Counters four = steadyStep(new int[] {784, 256, 128, 10}, 64, true);
        System.out.println("CudaCountsTest: 4 MNIST steps (784-256-128-10, batch 64, Adam): " + four);
        assertEquals(0, four.hostWaits(), "host waits in 4 steady steps: " + four);
        assertEquals(0, four.allocations(), "device allocations in 4 steady steps: " + four);
        // per step: 3 bias+activation epilogues, cross-entropy and its sum, the running totals, the cross-entropy
        // backward, 3 bias-gradient passes, one Adam launch for all 6 parameters
        assertEquals(4 * 11, four.launches(), four.toString());
        assertEquals(4 * 8, four.cublasCalls(), "3 forward GEMMs, 5 backward (none for the input): " + four);
    }

    /**
     * Clipping by global norm computes and applies the norm on the device: two launches more per step (the norm,
     * its partial sums finished by the launch's last block, and the scaling), still no wait and no allocation.
     */
    @Test
    void aClippedMnistStepNeverWaitsEither() {
        CudaEmulator.Counters four = steadyStep(new int[] {784, 256, 128, 10}, 64, true, 1.0);
        System.out.println("CudaCountsTest: 4 clipped MNIST steps (784-256-128-10, batch 64, Adam): " + four);
        assertEquals(0, four.hostWaits(), four.toString());
        assertEquals(0, four.allocations(), four.toString());
        assertEquals(4 * 13, four.launches(), four.toString());
    }

    /** The wide model (1024-1024-1024-1024-10 ReLU, SGD) at batch 256: the same shape of step, one layer more. */
    @Test
    void aSteadyWideStepNeverWaitsAndAllocatesNothing() {
        CudaEmulator.Counters four = steadyStep(new int[] {1024, 1024, 1024, 1024, 10}, 256, false);
        System.out.println("CudaCountsTest: 4 wide steps (1024-1024-1024-1024-10, batch 256, SGD): " + four);
        assertEquals(0, four.hostWaits(), four.toString());
        assertEquals(0, four.allocations(), four.toString());
        assertEquals(4 * 11, four.cublasCalls(), "4 forward GEMMs, 7 backward: " + four);
    }
}
