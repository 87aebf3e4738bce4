package dev.backprop4j.nn;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.tensor.GradCheck;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pre-norm residual MLP: its structure and names, its gradients, and that it trains. */
class ResMlpTest {

    @Test
    void itsParametersHaveTheNamesOfTheSameTorchModules() {
        try (Sequential m = ResMlp.of(6, 8, 2, 3).expansion(2).build()) {
            assertEquals(List.of("0.weight", "0.bias",
                    "1.body.0.weight", "1.body.0.bias", "1.body.1.weight", "1.body.1.bias", "1.body.3.weight",
                    "1.body.3.bias",
                    "2.body.0.weight", "2.body.0.bias", "2.body.1.weight", "2.body.1.bias", "2.body.3.weight",
                    "2.body.3.bias",
                    "3.weight", "3.bias", "4.weight", "4.bias"), List.copyOf(m.namedParameters().keySet()));
            assertEquals(Shape.of(16, 8), m.namedParameters().get("1.body.1.weight").shape());
            assertTrue(m.toString().startsWith("Sequential(Linear(6 -> 8), Residual(Sequential(LayerNorm(8), "),
                    m.toString());
        }
    }

    @Test
    void gradientsThroughTwoBlocksMatchFiniteDifferences() {
        try (Sequential m = ResMlp.of(3, 4, 2, 2).expansion(2).dtype(DType.FLOAT64).seed(9).build()) {
            Tensor x = Tensor.randn(new Generator(1), Shape.of(5, 3), DType.FLOAT64, Device.CPU);
            Tensor labels = Tensor.of(new int[] {0, 1, 1, 0, 1}, 5);
            List<Tensor> p = m.parameters();
            Tensor[] inputs = new Tensor[p.size() + 1];
            inputs[0] = x.requiresGrad(true);
            for (int i = 0; i < p.size(); i++) {
                inputs[i + 1] = p.get(i);
            }
            GradCheck.check("resmlp", t -> m.forward(t[0]).crossEntropy(labels), inputs);
        }
    }

    @Test
    void aResidualBodyMustKeepTheShape() {
        try (Residual r = new Residual(new Linear(4, 3))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> r.forward(Tensor.zeros(2, 4)));
            assertTrue(e.getMessage().contains("[2, 4]") && e.getMessage().contains("[2, 3]"), e.getMessage());
        }
    }

    @Test
    void eightBlocksTrainOnATwoClassProblem() {
        Generator gen = new Generator(4);
        Tensor x = Tensor.randn(gen, Shape.of(64, 10), DType.FLOAT32, Device.CPU);
        float[] v = x.toFloatArray();
        int[] y = new int[64];
        for (int r = 0; r < 64; r++) {
            y[r] = v[r * 10] * v[r * 10 + 1] > 0 ? 1 : 0;
        }
        Tensor labels = Tensor.of(y, 64);
        try (Sequential m = ResMlp.of(10, 32, 8, 2).seed(2).build(); AdamW opt = new AdamW(m.parameters(), 3e-3);
             Trainer t = new Trainer(m, opt)) {
            double first = t.step(x, labels).loss();
            double last = first;
            for (int i = 0; i < 60; i++) {
                last = t.step(x, labels).loss();
            }
            assertTrue(last < 0.1 * first, "loss " + first + " -> " + last);
        }
    }
}
