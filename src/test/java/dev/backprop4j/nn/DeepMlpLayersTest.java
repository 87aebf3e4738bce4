package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LayerNorm (and label smoothing) against PyTorch's numbers for the same input, weights and loss, printed by
 * {@code F.layer_norm(x, [3], weight, bias, 1e-5)} in float64 with torch 2.13 (fixed here, so the test runs
 * everywhere; {@code interop.LayerPeersTest} compares with a live PyTorch where one is installed).
 */
class DeepMlpLayersTest {

    @Test
    void layerNormMatchesPyTorchsNumbers() {
        try (LayerNorm norm = new LayerNorm(3, 1e-5, true, DType.FLOAT64, Device.CPU)) {
            norm.setParameter("weight", Tensor.of(new double[] {0.5, 1, 2}, 3));
            norm.setParameter("bias", Tensor.of(new double[] {0, 0.1, -0.2}, 3));
            Tensor x = Tensor.of(new double[] {1, 2, 3, -1, 0.5, 4}, 2, 3).requiresGrad(true);
            Tensor y = norm.forward(x);
            y.mul(Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3)).sum().backward();
            assertArrayEquals(new double[] {-0.6123678429541951, 0.1, 2.2494713718167803, -0.5171116456000272,
                -0.21822255113847824, 2.5048916846770646}, y.toDoubleArray(), 1e-14);
            assertArrayEquals(new double[] {0.5102560162059135, -1.0206130715903243, 0.5103570553844121,
                -4.712905525616762e-06, -1.4501247769249659e-06, 6.163030302319683e-06}, x.grad().toDoubleArray(),
                1e-14);
            assertArrayEquals(new double[] {-5.361628850708607, -1.591112755692391, 11.788882111756365},
                    norm.weight().grad().toDoubleArray(), 1e-13);
            assertArrayEquals(new double[] {5, 7, 9}, norm.bias().grad().toDoubleArray(), 0);
        }
    }

    /**
     * nn.BatchNorm1d(3) in float64, torch 2.13: a training step's output and gradients, the running statistics it
     * leaves, and the evaluation output from them; the state dict's names and order.
     */
    @Test
    void batchNormMatchesPyTorchsNumbers() {
        try (BatchNorm1d bn = new BatchNorm1d(3, 1e-5, 0.1, DType.FLOAT64, Device.CPU)) {
            bn.setParameter("weight", Tensor.of(new double[] {0.5, 1, 2}, 3));
            bn.setParameter("bias", Tensor.of(new double[] {0, 0.1, -0.2}, 3));
            assertEquals(java.util.List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                    java.util.List.copyOf(bn.stateDict().keySet()));
            Tensor x = Tensor.of(new double[] {1, 2, 3, -1, 0.5, 4, 0.2, -0.3, 0.7, 2, 1, -1}, 4, 3).requiresGrad(true);
            Tensor y = bn.forward(x);
            y.mul(Tensor.of(new double[] {1, 2, 3, 4, 5, 6, -1, 0.5, 2, 0.3, -2, 1}, 4, 3)).sum().backward();
            assertArrayEquals(new double[] {0.20475624198680215, 1.5394139899106807, 1.1564111038894713,
                -0.7052715001767631, -0.25985349747767017, 2.180117597390959, -0.15925485487862398,
                -1.2194628240847905, -1.198113831163951, 0.6597701130685848, 0.3399023316517801, -2.93841487011648},
                    y.toDoubleArray(), 1e-13);
            assertArrayEquals(new double[] {0.17635145912321293, 0.7755831547430362, -1.1816093281386504,
                0.6059375192381313, 4.341757669105708, 0.9977295273555108, -1.1078585042925242, -1.0733037052801593,
                -0.15422038411644312, 0.3255695259311798, -4.0440371185685855, 0.3381001848995826},
                    x.grad().toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {-4.518287739842101, -0.059975582912945344, 6.807648181784895},
                    bn.weight().grad().toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {4.3, 5.5, 12.0}, bn.bias().grad().toDoubleArray(), 1e-13);
            assertArrayEquals(new double[] {0.05500000000000001, 0.08000000000000002, 0.1675},
                    bn.runningMean().toDoubleArray(), 1e-15);
            assertArrayEquals(new double[] {1.061, 0.9926666666666667, 1.4089166666666668},
                    bn.runningVar().toDoubleArray(), 1e-15);
            assertEquals(1, bn.batchesTracked().toIntArray()[0]);
            bn.eval();
            assertArrayEquals(new double[] {0.216008219300481, 0.5215463987979175, 0.36024430529950435},
                    bn.forward(Tensor.of(new double[] {0.5, 0.5, 0.5}, 1, 3)).toDoubleArray(), 1e-14);
            bn.train();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> bn.forward(Tensor.of(new double[] {1, 2, 3}, 1, 3)));
            assertTrue(e.getMessage().contains("more than one row"), e.getMessage());
        }
    }

    /** F.gelu(x) (exact, erf) in float64, torch 2.13, from the far tails to 0, and its gradient. */
    @Test
    void exactGeluMatchesPyTorchsNumbers() {
        Tensor x = Tensor.of(new double[] {-6, -3, -1, -0.1, 0, 0.3, 1, 2.5, 8}, 9).requiresGrad(true);
        Tensor y = x.geluExact();
        y.mul(Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 9)).sum().backward();
        assertArrayEquals(new double[] {-5.919525869479969e-09, -0.00404969409489031, -0.15865525393145702,
            -0.0460172162722971, 0.0, 0.1853734266566858, 0.841344746068543, 2.4844758366855597, 7.999999999999995},
                y.toDoubleArray(), 1e-14);
        assertArrayEquals(new double[] {-3.546870945402639e-08, -0.02389129440836784, -0.24994641176305904,
            1.6819076319010793, 2.5, 4.393966600962659, 7.583208294113804, 8.30088868726516, 9.000000000000357},
                x.grad().toDoubleArray(), 1e-13);
        assertEquals(Activation.GELU_EXACT, Activation.parse("gelu_exact"));
    }

    /** nn.Embedding(4, 3) in float64, torch 2.13: rows by index, the repeated index's gradients summed. */
    @Test
    void embeddingMatchesPyTorchsNumbers() {
        try (Embedding e = new Embedding(4, 3, new dev.backprop4j.core.Generator(1), DType.FLOAT64, Device.CPU)) {
            e.setParameter("weight", Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 0.5, 2}, 4, 3));
            Tensor y = e.forward(Tensor.of(new int[] {1, 3, 1, 0}, 2, 2));
            assertEquals(Shape.of(2, 2, 3), y.shape());
            assertArrayEquals(new double[] {4, 5, 6, -1, 0.5, 2, 4, 5, 6, 1, 2, 3}, y.toDoubleArray(), 0);
            y.mul(Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3)).sum().backward();
            assertArrayEquals(new double[] {10, 11, 12, 8, 10, 12, 0, 0, 0, 4, 5, 6}, e.weight().grad().toDoubleArray(),
                    0);
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> e.forward(Tensor.of(new int[] {0, 4}, 2)));
            assertTrue(bad.getMessage().contains("embedding: index 4 in row 1 is outside [0, 4)"), bad.getMessage());
        }
    }

    /** F.cross_entropy(x, y, label_smoothing=0.1) in float64, torch 2.13. */
    @Test
    void labelSmoothingMatchesPyTorchsNumbers() {
        Tensor x = Tensor.of(new double[] {1, 2, -0.5, 0.3, -1.2, 2.2}, 2, 3).requiresGrad(true);
        Tensor loss = dev.backprop4j.ops.Losses.crossEntropy(x, Tensor.of(new int[] {2, 0}, 2), 0.1,
                dev.backprop4j.ops.Losses.Reduction.MEAN);
        loss.backward();
        assertEquals(2.396438413702996, loss.item(), 1e-14);
        assertArrayEquals(new double[] {0.11019142415084596, 0.32816937639558513, -0.438360800546431,
            -0.40344774585985527, -0.0025606187426319323, 0.4060083646024872}, x.grad().toDoubleArray(), 1e-14);
        assertThrows(IllegalArgumentException.class, () -> dev.backprop4j.ops.Losses.crossEntropy(x,
                Tensor.of(new int[] {2, 0}, 2), 1.5, dev.backprop4j.ops.Losses.Reduction.MEAN));
    }

    @Test
    void layerNormNormalisesEachRowOfAnyRank() {
        Tensor x = Tensor.randn(new dev.backprop4j.core.Generator(2), Shape.of(2, 3, 64), DType.FLOAT32, Device.CPU)
                .mul(7).add(3);
        try (LayerNorm norm = new LayerNorm(64)) {
            Tensor y = norm.forward(x);
            assertEquals(x.shape(), y.shape());
            float[] v = y.toFloatArray();
            for (int r = 0; r < 6; r++) {
                double mean = 0;
                double squares = 0;
                for (int c = 0; c < 64; c++) {
                    mean += v[r * 64 + c] / 64.0;
                }
                for (int c = 0; c < 64; c++) {
                    squares += Math.pow(v[r * 64 + c] - mean, 2) / 64;
                }
                assertEquals(0, mean, 1e-6, "row " + r);
                assertEquals(1, squares, 1e-4, "row " + r);
            }
            assertEquals("LayerNorm(64)", norm.toString());
            assertEquals(2, norm.parameters().size());
        }
    }

    @Test
    void layerNormNamesTheShapesThatDoNotFit() {
        try (LayerNorm norm = new LayerNorm(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> norm.forward(Tensor.zeros(2, 5)));
            assertTrue(e.getMessage().contains("layer_norm") && e.getMessage().contains("[4]")
                    && e.getMessage().contains("[2, 5]"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new LayerNorm(0));
        assertEquals(0, new LayerNorm(3, 1e-5, false, DType.FLOAT32, Device.CPU).parameters().size());
    }
}
