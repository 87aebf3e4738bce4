package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The activation memory of bf16 autocast, exact on the CUDA emulator's allocator: what a forward and loss keep for
 * the backward, per row of the batch (the difference between batches of 2B and B rows over B, so the weights'
 * bfloat16 copies, which do not grow with the batch, would not count anyway), on the wide model of the benchmark
 * scaled down (4 hidden ReLU layers as wide as the input, 10 outputs). Float32 keeps each hidden activation once in
 * float32; bf16 once in bfloat16, and no copy of the input or the weights (cast again in the backward): at least 40%
 * less.
 */
@Tag("gpu")
class AutocastMemoryTest {
    private static final Device GPU = Device.cuda(0);
    private static final int WIDTH = 128;

    @BeforeEach
    void needsGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
    }

    /** Bytes on the device that a forward and loss of {@code rows} rows leave allocated until the backward. */
    private static long kept(Sequential model, Autocast.Precision precision, int rows) {
        try (Tensor x = Tensor.randn(new Generator(3), Shape.of(rows, WIDTH), DType.FLOAT32, GPU);
             Tensor y = Tensor.of(new int[rows], rows).to(GPU)) {
            x.backend().synchronize();
            long before = Cuda.memoryStats(0).bytesInUse();
            Tensor loss;
            try (Autocast a = Autocast.of(precision)) {
                loss = Losses.crossEntropy(model.forward(x), y);
            }
            x.backend().synchronize();
            long kept = Cuda.memoryStats(0).bytesInUse() - before;
            loss.backward();
            loss.close();
            model.zeroGrad();
            return kept;
        }
    }

    private static double perRow(Autocast.Precision precision) {
        int[] sizes = {WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, 10};
        try (Sequential model = Mlp.of(sizes).activation(Activation.RELU).seed(1).device(GPU).build()) {
            kept(model, precision, 64); // the gradients' first allocation
            return (kept(model, precision, 512) - kept(model, precision, 256)) / 256.0;
        }
    }

    @Test
    void bf16KeepsAtLeast40PercentLessActivationMemoryThanFloat32() {
        double fp32 = perRow(Autocast.Precision.FP32);
        double bf16 = perRow(Autocast.Precision.BF16);
        // float32: 4 hidden activations of 128 floats, and the 10 logits and their softmax for the loss's backward
        assertEquals(4 * WIDTH * 4 + 2 * 10 * 4, fp32, "float32 bytes kept per row");
        // bf16: the hidden activations in bfloat16, the loss's the same
        assertEquals(4 * WIDTH * 2 + 2 * 10 * 4, bf16, "bf16 bytes kept per row");
        assertTrue(bf16 <= 0.6 * fp32, "bf16 keeps " + bf16 + " bytes per row, float32 " + fp32);
    }
}
