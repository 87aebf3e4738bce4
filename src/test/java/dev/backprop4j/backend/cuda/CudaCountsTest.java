package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Exact counts of device work, read from the CUDA emulator's counters: launches, cuBLAS calls, copies, host waits
 * and device allocations per operation and per training step. Counts are exact and repeatable where times are not,
 * so they are what CI can hold the GPU path to. Runs only on the emulator (the counters are its own).
 */
@Tag("gpu")
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
     * The default MNIST model (784-256-128-10 ReLU, Adam) at batch 64: after the first steps every step does the
     * same work, and the caching allocator serves every buffer, so a steady step allocates no device memory.
     */
    @Test
    void steadyTrainingStepsRepeatTheSameWorkAndAllocateNoDeviceMemory() {
        Sequential model = Mlp.of(784, 256, 128, 10).activation(Activation.RELU).seed(1).device(GPU).build();
        Trainer trainer = new Trainer(model, new Adam(model.parameters(), 1e-3));
        Tensor x = Tensor.randn(new Generator(3), Shape.of(64, 784), DType.FLOAT32, GPU);
        int[] labels = new int[64];
        for (int i = 0; i < 64; i++) {
            labels[i] = i % 10;
        }
        Tensor y = Tensor.of(labels, 64).to(GPU);
        CudaEmulator.Counters previous = null;
        for (int step = 0; step < 5; step++) {
            CudaEmulator.Counters before = CudaEmulator.counters();
            try (Scope s = Scope.open()) {
                trainer.step(x, y);
            }
            CudaEmulator.Counters d = CudaEmulator.counters().minus(before);
            if (step >= 2) {
                assertEquals(0, d.allocations(), "device allocations in steady step " + step + ": " + d);
                assertEquals(previous, d, "step " + step + " did other work than the step before");
            }
            previous = d;
        }
        System.out.println("CudaCountsTest: MNIST step (784-256-128-10, batch 64, Adam): " + previous);
    }
}
