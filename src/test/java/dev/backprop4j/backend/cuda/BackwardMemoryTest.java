package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backward frees each upstream gradient once its op has used it (as PyTorch does), not with the step's scope:
 * on an 8-layer MLP, exact on the CUDA emulator's allocator, the backward's peak beyond the forward's memory is the
 * parameters' gradients and a few layers' transients, not every layer's.
 */
@Tag("gpu")
class BackwardMemoryTest {
    private static final Device GPU = Device.cuda(0);
    private static final int WIDTH = 128;
    private static final int ROWS = 256;

    @BeforeEach
    void needsGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
    }

    @Test
    void theBackwardKeepsAFewLayersOfGradientsAliveNotAll() {
        int[] sizes = {WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, 10};
        try (Sequential model = Mlp.of(sizes).activation(Activation.RELU).seed(1).device(GPU).build();
             Tensor x = Tensor.randn(new Generator(3), Shape.of(ROWS, WIDTH), DType.FLOAT32, GPU);
             Tensor y = Tensor.of(new int[ROWS], ROWS).to(GPU);
             Scope scope = Scope.open()) {
            Tensor loss = Losses.crossEntropy(model.forward(x), y);
            x.backend().synchronize();
            Cuda.resetPeakMemory(0);
            long before = Cuda.memoryStats(0).bytesInUse();
            loss.backward();
            x.backend().synchronize();
            long peak = Cuda.memoryStats(0).peakBytesInUse() - before;
            long gradients = 4L * model.parameterCount();
            long layer = 4L * ROWS * WIDTH; // one [rows, width] float32 gradient
            // without freeing, the 9 layers' dz and dx (18 layers' worth) would all stay until the scope closes
            assertTrue(peak <= gradients + 4 * layer, "the backward's peak " + peak + " bytes, gradients "
                    + gradients + ", a layer's gradient " + layer);
        }
    }
}
