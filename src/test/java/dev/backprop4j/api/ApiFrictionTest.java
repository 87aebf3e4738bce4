package dev.backprop4j.api;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Linear;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.ops.Losses.Reduction;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.GradCheck;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a user writing against the public API met, answered: each test is the code they wanted to write. */
class ApiFrictionTest {

    @Test
    void aLinearLayerFromGivenWeightsInPyTorchsLayout() {
        Tensor w = Tensor.of(new double[]{1, 2, 3, 4, 5, 6}, DType.FLOAT32, 2, 3); // [out 2, in 3]
        Tensor b = Tensor.of(new float[]{0.5f, -1}, 2);
        Linear layer = Linear.of(w, b);
        assertEquals(3, layer.inFeatures());
        assertEquals(2, layer.outFeatures());
        assertSame(w, layer.weight());
        float[] y = layer.forward(Tensor.of(new float[][]{{1, 0, 1}})).toFloatArray();
        assertArrayEquals(new float[]{4.5f, 9}, y);
        assertNull(Linear.of(w.copy(), null).bias());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Linear.of(Tensor.zeros(2, 3), Tensor.zeros(3)));
        assertTrue(e.getMessage().contains("bias [3] float32 cpu does not fit weight [2, 3]"), e.getMessage());
    }

    @Test
    void oneActivationPerHiddenLayer() {
        Sequential net = Mlp.of(4, 5, 3, 2).activations(Activation.RELU, Activation.TANH).dtype(DType.FLOAT64)
                .seed(3).build();
        assertEquals("Sequential(Linear(4 -> 5), relu, Linear(5 -> 3), tanh, Linear(3 -> 2))", net.toString());
        Tensor x = Tensor.randn(new Generator(1), Shape.of(6, 4), DType.FLOAT64, Device.CPU);
        Tensor labels = Tensor.of(new int[]{0, 1, 1, 0, 1, 0}, 6);
        Tensor expected = net.forward(x).crossEntropy(labels);
        Tensor w0 = net.namedParameters().get("0.weight");
        Tensor w2 = net.namedParameters().get("2.weight");
        GradCheck.check("relu then tanh", t -> net.forward(t[0]).crossEntropy(labels), x);
        assertEquals(expected.item(), net.forward(x).crossEntropy(labels).item(), 0);
        assertTrue(w0 != null && w2 != null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Mlp.of(4, 5, 3, 2).activations(Activation.RELU));
        assertEquals("Mlp: 1 activations for 2 hidden layers of [4, 5, 3, 2]", e.getMessage());
    }

    @Test
    void tensorsOfAnyDtypeFromDoublesAndZerosOfADtype() {
        Tensor f = Tensor.of(new double[]{0.1, 2, 3.9, -1.5}, DType.FLOAT32, 2, 2);
        assertEquals(DType.FLOAT32, f.dtype());
        assertArrayEquals(new float[]{0.1f, 2, 3.9f, -1.5f}, f.toFloatArray());
        Tensor i = Tensor.of(new double[]{0.1, 2, 3.9, -1.5}, DType.INT32, 4);
        assertArrayEquals(new int[]{0, 2, 3, -1}, i.toIntArray());
        Tensor z = Tensor.zeros(DType.FLOAT64, 2, 3);
        assertEquals("[2, 3] float64 cpu", z.describe());
        assertArrayEquals(new int[]{1, 1, 1, 1, 1, 1}, Tensor.ones(DType.INT32, 2, 3).toIntArray());
    }

    @Test
    void lossesReduceAsPyTorchsReductionArgument() {
        Tensor p = Tensor.of(new double[]{1, 2, 3, 4}, 2, 2).requiresGrad(true);
        Tensor t = Tensor.of(new double[]{0, 2, 1, 1}, 2, 2);
        Tensor none = Losses.mse(p, t, Reduction.NONE);
        assertEquals(Shape.of(2, 2), none.shape());
        assertArrayEquals(new double[]{1, 0, 4, 9}, none.toDoubleArray());
        assertEquals(14, Losses.mse(p, t, Reduction.SUM).item(), 0);
        assertEquals(3.5, Losses.mse(p, t).item(), 0);
        Tensor logits = Tensor.of(new double[]{0, 0, 1, 3}, 2, 2);
        Tensor labels = Tensor.of(new int[]{0, 1}, 2);
        double[] rows = Losses.crossEntropy(logits, labels, Reduction.NONE).toDoubleArray();
        assertEquals(Math.log(2), rows[0], 1e-12);
        assertEquals(Math.log(1 + Math.exp(-2)), rows[1], 1e-12);
        assertEquals(rows[0] + rows[1], Losses.crossEntropy(logits, labels, Reduction.SUM).item(), 1e-12);
        GradCheck.check("bce sum", x -> Losses.binaryCrossEntropyWithLogits(x[0], x[1], Reduction.SUM),
                Tensor.of(new double[]{-2, 0, 3}, 3), Tensor.of(new double[]{0.2, 1, 0}, 3));
    }

    @Test
    void aTensorClosedByAScopeSaysWhichScope() {
        Tensor leaf;
        try (Scope step = Scope.open()) {
            leaf = Tensor.zeros(2).requiresGrad(true);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, leaf::toFloatArray);
        assertTrue(e.getMessage().startsWith("tensor [2] float32 cpu is closed (it was created inside the Scope opened "
                + "at ApiFrictionTest.java:"), e.getMessage());
        assertTrue(e.getMessage().contains("create it before that scope opens, or move it out with scope.keep(tensor)"),
                e.getMessage());
    }

    @Test
    void stepWithoutAnyGradientSaysTheBackwardIsMissing() {
        Sequential net = Mlp.of(2, 3, 1).seed(1).build();
        Sgd sgd = new Sgd(net.parameters(), 0.1);
        assertNull(net.parameters().get(0).grad(), "no backward yet: null, as in PyTorch");
        IllegalStateException e = assertThrows(IllegalStateException.class, sgd::step);
        assertEquals("Sgd.step: none of the 4 parameters has a gradient; call backward() on the loss before step() "
                + "(zeroGrad() clears them, and a loss that does not depend on the parameters gives them none)",
                e.getMessage());
    }

    @Test
    void theTrainerTakesAnotherLossAndReportsAStepResult() {
        Sequential net = Mlp.of(2, 4, 2).seed(1).build();
        Trainer trainer = new Trainer(net, new Sgd(net.parameters(), 0.1))
                .loss((logits, y) -> Losses.crossEntropy(logits, y, Reduction.SUM).div(y.dim(0)));
        Trainer.StepResult r = trainer.step(Tensor.of(new float[][]{{0, 1}, {1, 0}, {1, 1}}),
                Tensor.of(new int[]{1, 0, 1}, 3));
        assertEquals(3, r.samples());
        assertTrue(r.loss() > 0 && r.correct() >= 0 && r.correct() <= 3, r.toString());
    }

    @Test
    void aParameterListedTwiceIsRefusedAndALossOfAnotherDtypeIsNamed() {
        Sequential m = Mlp.of(3, 2).seed(1).build();
        Tensor w = m.parameters().get(0);
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
                () -> new Sgd(java.util.List.of(w, w), 0.1));
        assertTrue(twice.getMessage().contains("listed twice"), twice.getMessage());
        Trainer t = new Trainer(m, new Sgd(m.parameters(), 0.1))
                .loss((logits, labels) -> Losses.crossEntropy(logits, labels).to(DType.FLOAT64));
        IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                () -> t.step(Tensor.randn(new Generator(1), Shape.of(4, 3), DType.FLOAT32, Device.CPU),
                        Tensor.of(new int[] {0, 1, 0, 1}, 4)));
        assertTrue(dtype.getMessage().contains("a scalar loss of the logits' dtype"), dtype.getMessage());
    }
}
