package dev.backprop4j.backend.cuda;

import dev.backprop4j.ScopePerTest;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.BatchNorm1d;
import dev.backprop4j.nn.Module;
import dev.backprop4j.nn.ResMlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import static dev.backprop4j.ScopePerTest.closeAfter;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The deep-MLP layers on a CUDA device against the CPU, float32, from the same weights: the output, the input's
 * gradient, every parameter's gradient and, for BatchNorm1d, the running statistics and the evaluation output.
 * Runs on the emulator in CI and on a GPU.
 */
@Tag("gpu")
@ExtendWith(ScopePerTest.class)
class CudaLayersTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
    }

    /** Forward, backward and (after eval()) forward again on {@code device}; every value read back. */
    private static List<float[]> run(Function<Device, Module> build, Device device) {
        Module m = closeAfter(build.apply(device));
        Tensor x = Tensor.randn(new Generator(3), Shape.of(9, 16), DType.FLOAT32, Device.CPU).mul(2).add(1)
                .to(device).requiresGrad(true);
        Tensor w = Tensor.randn(new Generator(4), m.forward(x).shape(), DType.FLOAT32, Device.CPU).to(device);
        Tensor y = m.forward(x);
        y.mul(w).sum().backward();
        List<float[]> out = new ArrayList<>();
        out.add(y.toFloatArray());
        out.add(x.grad().toFloatArray());
        for (Tensor p : m.parameters()) {
            out.add(p.grad().toFloatArray());
        }
        for (Tensor s : m.stateDict().values()) {
            out.add(s.dtype() == DType.INT32 ? new float[] {s.toIntArray()[0]} : s.toFloatArray());
        }
        m.eval();
        out.add(m.forward(x).toFloatArray());
        return out;
    }

    private static void assertSame(Function<Device, Module> build) {
        List<float[]> cpu = run(build, Device.CPU);
        List<float[]> gpu = run(build, GPU);
        for (int i = 0; i < cpu.size(); i++) {
            assertArrayEquals(cpu.get(i), gpu.get(i), 2e-4f, "value " + i);
        }
    }

    @Test
    void batchNormTrainsAndScoresAsOnTheCpu() {
        assertSame(d -> new BatchNorm1d(16, 1e-5, 0.1, DType.FLOAT32, d));
    }

    @Test
    void aResidualMlpWithLayerNormTrainsAsOnTheCpu() {
        assertSame(d -> {
            Sequential m = ResMlp.of(16, 8, 2, 3).expansion(2).seed(5).build();
            m.to(d);
            return m;
        });
    }
}
