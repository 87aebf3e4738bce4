package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.GradCheck;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LayersTest {
    private static final Generator GEN = new Generator(5);

    private static Tensor randn(int... dims) {
        return Tensor.randn(GEN, Shape.of(dims), DType.FLOAT64, Device.CPU);
    }

    @Test
    void linearGradientsThroughEveryActivation() {
        for (Activation a : Activation.values()) {
            Linear l1 = new Linear(4, 5, true, Init.PYTORCH_DEFAULT, new Generator(1), DType.FLOAT64, Device.CPU);
            Linear l2 = new Linear(5, 3, true, Init.HE, new Generator(2), DType.FLOAT64, Device.CPU);
            Tensor x = randn(6, 4);
            int[] labels = {0, 1, 2, 0, 1, 2};
            Tensor y = Tensor.of(labels, 6);
            // gradcheck over input and every parameter: the function rebuilds the layers' forward from the inputs
            GradCheck.check("mlp with " + a, t -> dev.backprop4j.ops.Dense.apply(
                            a.apply(dev.backprop4j.ops.Dense.apply(t[0], t[1], t[2])), t[3], t[4]).crossEntropy(y),
                    x, l1.weight().detach(), l1.bias().detach(), l2.weight().detach(), l2.bias().detach());
        }
    }

    @Test
    void linearWithoutBiasAndLossesGradcheck() {
        Tensor w = randn(3, 4);
        GradCheck.check("linear no bias", t -> dev.backprop4j.ops.Dense.apply(t[0], t[1], null), randn(2, 4), w);
        GradCheck.check("mse", t -> dev.backprop4j.ops.Losses.mse(t[0], t[1]), randn(3, 2), randn(3, 2));
        GradCheck.check("bce", t -> dev.backprop4j.ops.Losses.binaryCrossEntropyWithLogits(t[0], t[1]), randn(4),
                Tensor.of(new double[]{0, 1, 1, 0}, 4));
    }

    @Test
    void mlpBuilderNamesParametersLikePyTorch() {
        Sequential m = Mlp.of(784, 256, 128, 10).activation(Activation.RELU).seed(1).build();
        assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"),
                List.copyOf(m.namedParameters().keySet()));
        assertEquals(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, m.parameterCount());
        assertEquals(Shape.of(256, 784), m.namedParameters().get("0.weight").shape());
        // PyTorch default init: |w| <= 1/sqrt(fan_in)
        double bound = 1 / Math.sqrt(784);
        for (float v : m.namedParameters().get("0.weight").toFloatArray()) {
            assertTrue(Math.abs(v) <= bound);
        }
        Sequential same = Mlp.of(784, 256, 128, 10).seed(1).build();
        assertArrayEquals(m.namedParameters().get("2.weight").toFloatArray(), same.namedParameters().get("2.weight").toFloatArray());
    }

    @Test
    void initScales() {
        Tensor he = Init.HE.weight(new Generator(3), Shape.of(400, 500), 500, 400, DType.FLOAT64, Device.CPU);
        double var = he.square().mean().item();
        assertEquals(2.0 / 500, var, 0.1 * 2.0 / 500);
        Tensor xavier = Init.XAVIER.weight(new Generator(3), Shape.of(300, 200), 200, 300, DType.FLOAT64, Device.CPU);
        assertTrue(xavier.abs().max().item() <= Math.sqrt(6.0 / 500));
    }

    @Test
    void dropoutScalesInTrainingAndIsIdentityInEval() {
        Dropout d = new Dropout(0.5, new Generator(9));
        Tensor x = Tensor.ones(10_000);
        float[] y = d.forward(x).toFloatArray();
        int kept = 0;
        for (float v : y) {
            assertTrue(v == 0f || v == 2f);
            kept += v == 2f ? 1 : 0;
        }
        assertEquals(5000, kept, 200);
        d.eval();
        assertArrayEquals(x.toFloatArray(), d.forward(x).toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1.0, new Generator(1)));
    }

    @Test
    void twoDropoutsNeverShareAGenerator() {
        Generator g = new Generator(9);
        Dropout first = new Dropout(0.5, g);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Dropout(0.2, g));
        assertTrue(e.getMessage().contains("another Dropout"), e.getMessage());
        first.close();
        new Dropout(0.2, g).close(); // free again once the first is closed

        Sequential net = Mlp.of(64, 64, 64, 2).dropout(0.5).seed(0).build();
        Tensor x = Tensor.ones(8, 64);
        float[] a = net.layers().get(2).forward(x).toFloatArray();
        float[] b = net.layers().get(5).forward(x).toFloatArray();
        assertFalse(Arrays.equals(a, b), "the two dropout layers of one MLP draw different masks");
    }

    @Test
    void linearRejectsAWrongInputWidth() {
        Linear l = new Linear(3, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.forward(Tensor.zeros(4, 5)));
        assertTrue(e.getMessage().contains("[4, 5]") && e.getMessage().contains("[2, 3]"), e.getMessage());
    }

    @Test
    void bceWithLogitsHasTheExactGradientAtZero() {
        Tensor z = Tensor.of(new double[]{0, 0}, 2).requiresGrad(true);
        dev.backprop4j.ops.Losses.binaryCrossEntropyWithLogits(z, Tensor.of(new double[]{0, 1}, 2)).backward();
        assertArrayEquals(new double[]{0.25, -0.25}, z.grad().toDoubleArray(), 1e-12);
    }
}
