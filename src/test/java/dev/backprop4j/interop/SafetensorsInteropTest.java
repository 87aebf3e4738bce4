package dev.backprop4j.interop;

import dev.backprop4j.backend.Conversions;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.io.Checkpoint;
import dev.backprop4j.io.Safetensors;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.RunMetadata;
import dev.backprop4j.train.RunSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Models move both ways between backprop4j and PyTorch as safetensors files, by the state-dict names of an
 * {@code nn.Sequential}: one saved here loads there with {@code load_state_dict(load_file(f), strict=True)} and
 * computes the same outputs; one saved there with the two metadata keys loads here and computes PyTorch's outputs.
 * Runs where PyTorch is installed ({@link PyTorchPeer}).
 */
class SafetensorsInteropTest {
    @TempDir
    Path dir;

    private static final String TORCH_FORWARD = """
            import sys, torch
            from safetensors.torch import load_file
            torch.set_default_dtype(torch.float64)
            m = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
            m.load_state_dict({k: v.double() for k, v in load_file(sys.argv[1]).items()}, strict=True)
            x = torch.tensor([float(v) for v in sys.argv[2].split(",")]).reshape(2, 5)
            print(" ".join(repr(v) for v in m(x).flatten().tolist()))
            """;

    private static final String TORCH_SAVE = """
            import sys, torch
            from safetensors.torch import save_file
            torch.manual_seed(3)
            m = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
            save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[1],
                      metadata={"backprop4j.layers": "4,6,2", "backprop4j.activation": "relu"})
            x = torch.tensor([float(v) for v in sys.argv[2].split(",")]).reshape(3, 4)
            print(" ".join(repr(v) for v in m(x).detach().flatten().tolist()))
            """;

    private static String csv(double[] v) {
        return String.join(",", Arrays.stream(v).mapToObj(Double::toString).toList());
    }

    @Test
    void aModelSavedHereLoadsInPyTorchAndComputesTheSame() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        Path f = dir.resolve("ours.safetensors");
        try (Sequential m = Mlp.of(5, 7, 3).activation(Activation.TANH).seed(8).build();
             GradMode.Guard off = GradMode.noGrad()) {
            Checkpoint.save(f, m, Map.of());
            double[] x = Tensor.randn(new Generator(4), Shape.of(10), DType.FLOAT64, Device.CPU).toDoubleArray();
            double[] ours = m.forward(Tensor.of(x, 2, 5).to(DType.FLOAT32)).toDoubleArray();
            double[] theirs = PyTorchPeer.numbers(PyTorchPeer.run(dir, TORCH_FORWARD, f.toString(), csv(x)));
            assertArrayEquals(theirs, ours, 1e-5, "float32 here, float64 there, same weights");
        }
    }

    @Test
    void aModelSavedByPyTorchLoadsHereAndComputesTheSame() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        Path f = dir.resolve("theirs.safetensors");
        double[] x = Tensor.randn(new Generator(5), Shape.of(12), DType.FLOAT64, Device.CPU).toDoubleArray();
        double[] theirs = PyTorchPeer.numbers(PyTorchPeer.run(dir, TORCH_SAVE, f.toString(), csv(x)));
        RunSpec spec = RunMetadata.read(Safetensors.header(f).metadata(), f);
        try (Sequential m = spec.newModel(Device.CPU); GradMode.Guard off = GradMode.noGrad()) {
            Checkpoint.load(f, m);
            double[] ours = m.forward(Tensor.of(x, 3, 4).to(DType.FLOAT32)).toDoubleArray();
            assertArrayEquals(theirs, ours, 1e-5);
        }
    }
    private static final String TORCH_BF16 = """
            import sys, torch
            from safetensors.torch import load_file, save_file
            ours = load_file(sys.argv[1])["h"]
            x = torch.tensor([float(v) for v in sys.argv[3].split(",")], dtype=torch.float32)
            save_file({"h": x.to(torch.bfloat16)}, sys.argv[2])
            print(str(ours.dtype), " ".join(str(v) for v in ours.view(torch.int16).tolist()))
            """;

    /** bfloat16 tensors move both ways as BF16, rounded alike: PyTorch reads our bits, we read its. */
    @Test
    void bfloat16TensorsMoveBothWaysWithTheSameBits() throws Exception {
        assumeTrue(PyTorchPeer.available(), PyTorchPeer.SKIPPED);
        float[] x = Tensor.randn(new Generator(6), Shape.of(64), DType.FLOAT32, Device.CPU).mul(100).toFloatArray();
        x[0] = 1.00390625f; // a tie, to even
        x[1] = 3.4e38f;     // past bfloat16's largest: infinity
        Path ours = dir.resolve("ours-bf16.safetensors");
        Path theirs = dir.resolve("theirs-bf16.safetensors");
        Tensor h = Tensor.of(x, 64).to(DType.BFLOAT16);
        Safetensors.write(ours, Map.of("h", h), Map.of());
        String[] out = PyTorchPeer.run(dir, TORCH_BF16, ours.toString(), theirs.toString(),
                csv(Conversions.toDoubles(x))).trim().split(" ", 2);
        assertEquals("torch.bfloat16", out[0]);
        double[] bits = PyTorchPeer.numbers(out[1]);
        short[] mine = h.toBf16Bits();
        for (int i = 0; i < mine.length; i++) {
            assertEquals(mine[i], (short) bits[i], "element " + i);
        }
        assertArrayEquals(mine, Safetensors.read(theirs).tensors().get("h").toBf16Bits(), "PyTorch's rounding = ours");
    }
}
