package dev.backprop4j.interop;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.nn.LayerNorm;
import dev.backprop4j.nn.ResMlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The deep-MLP layers beside PyTorch's modules of the same name, in float64 on the same weights and inputs: the
 * output and every gradient of a weighted sum of it. Runs where PyTorch is installed ({@link PyTorchPeer}).
 */
class LayerPeersTest {
    @TempDir
    Path dir;

    private static String csv(double[] v) {
        return String.join(",", Arrays.stream(v).mapToObj(Double::toString).toList());
    }

    private static double[] randn(long seed, int n) {
        return Tensor.randn(new Generator(seed), Shape.of(n), DType.FLOAT64, Device.CPU).toDoubleArray();
    }

    private static final String TORCH_LAYER_NORM = """
            import sys, torch
            torch.set_default_dtype(torch.float64)
            rows, cols = int(sys.argv[1]), int(sys.argv[2])
            t = lambda s: torch.tensor([float(v) for v in s.split(",")])
            m = torch.nn.LayerNorm(cols, eps=1e-5)
            with torch.no_grad():
                m.weight.copy_(t(sys.argv[4])); m.bias.copy_(t(sys.argv[5]))
            x = t(sys.argv[3]).reshape(rows, cols).requires_grad_()
            y = m(x)
            (y * t(sys.argv[6]).reshape(rows, cols)).sum().backward()
            for v in (y.detach(), x.grad, m.weight.grad, m.bias.grad):
                print(" ".join(repr(e) for e in v.flatten().tolist()))
            """;

    @Test
    void layerNormAgreesWithPyTorchsInFloat64() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        int rows = 5;
        int cols = 33;
        double[] x = randn(1, rows * cols);
        double[] gamma = randn(2, cols);
        double[] beta = randn(3, cols);
        double[] w = randn(4, rows * cols);
        String[] lines = PyTorchPeer.run(dir, TORCH_LAYER_NORM, Integer.toString(rows), Integer.toString(cols),
                csv(x), csv(gamma), csv(beta), csv(w)).strip().split("\n");
        try (LayerNorm norm = new LayerNorm(cols, 1e-5, true, DType.FLOAT64, Device.CPU)) {
            norm.setParameter("weight", Tensor.of(gamma, cols));
            norm.setParameter("bias", Tensor.of(beta, cols));
            Tensor in = Tensor.of(x, rows, cols).requiresGrad(true);
            Tensor y = norm.forward(in);
            y.mul(Tensor.of(w, rows, cols)).sum().backward();
            double[][] ours = {y.toDoubleArray(), in.grad().toDoubleArray(), norm.weight().grad().toDoubleArray(),
                norm.bias().grad().toDoubleArray()};
            String[] what = {"y", "dx", "dweight", "dbias"};
            for (int i = 0; i < 4; i++) {
                assertArrayEquals(PyTorchPeer.numbers(lines[i]), ours[i], 1e-12, what[i]);
            }
        }
    }

    private static final String TORCH_RESMLP = """
            import sys, torch
            from safetensors.torch import load_file
            torch.set_default_dtype(torch.float64)
            class Residual(torch.nn.Module):
                def __init__(self, body):
                    super().__init__()
                    self.body = body
                def forward(self, x):
                    return x + self.body(x)
            gelu = lambda: torch.nn.GELU(approximate="tanh")
            block = lambda: Residual(torch.nn.Sequential(torch.nn.LayerNorm(8), torch.nn.Linear(8, 16), gelu(),
                                                         torch.nn.Linear(16, 8)))
            m = torch.nn.Sequential(torch.nn.Linear(6, 8), block(), block(), torch.nn.LayerNorm(8),
                                    torch.nn.Linear(8, 3))
            m.load_state_dict(load_file(sys.argv[1]), strict=True)
            x = torch.tensor([float(v) for v in sys.argv[2].split(",")]).reshape(4, 6)
            print(" ".join(repr(v) for v in m(x).detach().flatten().tolist()))
            """;

    /** A ResMlp's safetensors file loads, by its names, into the same structure written with torch.nn. */
    @Test
    void aResMlpLoadsIntoTheSameTorchModulesAndComputesTheSame() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        Path f = dir.resolve("resmlp.safetensors");
        double[] x = randn(5, 24);
        try (Sequential m = ResMlp.of(6, 8, 2, 3).expansion(2).dtype(DType.FLOAT64).seed(3).build();
             GradMode.Guard off = GradMode.noGrad()) {
            Checkpoint.save(f, m, Map.of());
            double[] ours = m.forward(Tensor.of(x, 4, 6)).toDoubleArray();
            double[] theirs = PyTorchPeer.numbers(PyTorchPeer.run(dir, TORCH_RESMLP, f.toString(), csv(x)));
            assertArrayEquals(theirs, ours, 1e-12);
        }
    }

    private static final String TORCH_BATCH_NORM = """
            import sys, torch
            from safetensors.torch import load_file, save_file
            torch.set_default_dtype(torch.float64)
            x = torch.tensor([float(v) for v in sys.argv[3].split(",")]).reshape(4, 5)
            m = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                                    torch.nn.Linear(6, 2))
            m.load_state_dict(load_file(sys.argv[1]), strict=True)
            m.eval()
            print(" ".join(repr(v) for v in m(x).detach().flatten().tolist()))
            m.train()
            m(x); m(x * 2)  # two training batches move the running statistics
            m.eval()
            save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[2])
            print(" ".join(repr(v) for v in m(x).detach().flatten().tolist()))
            """;

    /**
     * A model with BatchNorm1d moves both ways with its running statistics: ours loads into torch.nn and scores the
     * same in eval mode; torch's, after two training batches (num_batches_tracked an int64 there), loads here and
     * scores the same.
     */
    @Test
    void batchNormStateMovesBothWays() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        Path ours = dir.resolve("bn-ours.safetensors");
        Path theirs = dir.resolve("bn-theirs.safetensors");
        double[] x = randn(6, 20);
        try (Sequential m = new Sequential(new dev.backprop4j.nn.Linear(5, 6, true, dev.backprop4j.nn.Init.HE,
                new Generator(2), DType.FLOAT64, Device.CPU), new dev.backprop4j.nn.BatchNorm1d(6, 1e-5, 0.1,
                DType.FLOAT64, Device.CPU), dev.backprop4j.nn.Activation.RELU.module(),
                new dev.backprop4j.nn.Linear(6, 2, true, dev.backprop4j.nn.Init.HE, new Generator(3), DType.FLOAT64,
                        Device.CPU))) {
            m.forward(Tensor.of(x, 4, 5)); // a training batch: running statistics away from 0 and 1
            m.eval();
            Checkpoint.save(ours, m, Map.of());
            String[] lines = PyTorchPeer.run(dir, TORCH_BATCH_NORM, ours.toString(), theirs.toString(), csv(x))
                    .strip().split("\n");
            try (GradMode.Guard off = GradMode.noGrad()) {
                assertArrayEquals(PyTorchPeer.numbers(lines[0]), m.forward(Tensor.of(x, 4, 5)).toDoubleArray(), 1e-12);
                Checkpoint.load(theirs, m);
                assertArrayEquals(PyTorchPeer.numbers(lines[1]), m.forward(Tensor.of(x, 4, 5)).toDoubleArray(), 1e-12);
            }
        }
    }
}
