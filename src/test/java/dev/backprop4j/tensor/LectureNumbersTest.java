package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The worked numbers of the backpropagation lectures (shared/seeds), as tests. */
class LectureNumbersTest {

    @Test
    void linearNodeGivesTheLecturesGradients() {
        Tensor w = Tensor.scalar(-2.0).requiresGrad(true);
        Tensor x = Tensor.scalar(5.0).requiresGrad(true);
        Tensor b = Tensor.scalar(3.0).requiresGrad(true);
        Tensor f = w.mul(x).add(b);
        assertEquals(-7.0, f.item());
        f.backward();
        assertEquals(5.0, w.grad().item());
        assertEquals(-2.0, x.grad().item());
        assertEquals(1.0, b.grad().item());
    }

    @Test
    void sigmoidNeuronGradientsMatchTheExactValues() {
        Tensor w0 = Tensor.scalar(2.0, DType.FLOAT64).requiresGrad(true);
        Tensor x0 = Tensor.scalar(-1.0, DType.FLOAT64).requiresGrad(true);
        Tensor w1 = Tensor.scalar(-3.0, DType.FLOAT64).requiresGrad(true);
        Tensor x1 = Tensor.scalar(-2.0, DType.FLOAT64).requiresGrad(true);
        Tensor w2 = Tensor.scalar(-3.0, DType.FLOAT64).requiresGrad(true);
        Tensor f = w0.mul(x0).add(w1.mul(x1)).add(w2).sigmoid();
        f.backward();
        // z = 2*(-1) + (-3)*(-2) - 3 = 1, sigma(1) = 0.7311, local gradient sigma(1)(1 - sigma(1)) = 0.19661
        double s = 1.0 / (1.0 + Math.exp(-1.0));
        double dz = s * (1 - s);
        assertEquals(s, f.item(), 1e-12);
        assertEquals(dz * -1.0, w0.grad().item(), 1e-6); // about -0.20
        assertEquals(dz * 2.0, x0.grad().item(), 1e-6);  // about 0.39
        assertEquals(dz * -2.0, w1.grad().item(), 1e-6); // about -0.39
        assertEquals(dz * -3.0, x1.grad().item(), 1e-6); // about -0.59
        assertEquals(dz, w2.grad().item(), 1e-6);        // about 0.20
        assertEquals(-0.20, w0.grad().item(), 0.005);
        assertEquals(0.39, x0.grad().item(), 0.005);
        assertEquals(-0.39, w1.grad().item(), 0.005);
        assertEquals(-0.59, x1.grad().item(), 0.005);
        assertEquals(0.20, w2.grad().item(), 0.005);
    }

    @Test
    void xorNeedsAHiddenLayerAndPlainGradientDescentLearnsIt() {
        Tensor x = Tensor.of(new float[][]{{0, 0}, {0, 1}, {1, 0}, {1, 1}});
        Tensor y = Tensor.of(new float[]{0, 1, 1, 0}, 4, 1);
        Generator gen = new Generator(42);
        Tensor w1 = Tensor.randn(gen, Shape.of(2, 4), DType.FLOAT32, x.device()).requiresGrad(true);
        Tensor b1 = Tensor.zeros(4).requiresGrad(true);
        Tensor w2 = Tensor.randn(gen, Shape.of(4, 1), DType.FLOAT32, x.device()).requiresGrad(true);
        Tensor b2 = Tensor.zeros(1).requiresGrad(true);
        double lr = 2.0;
        double first = 0;
        double last = 0;
        for (int step = 0; step < 3000; step++) {
            Tensor out = x.matmul(w1).add(b1).sigmoid().matmul(w2).add(b2).sigmoid();
            Tensor loss = dev.backprop4j.ops.Losses.mse(out, y);
            if (step == 0) {
                first = loss.item();
            }
            last = loss.item();
            for (Tensor p : new Tensor[]{w1, b1, w2, b2}) {
                p.zeroGrad();
            }
            loss.backward();
            try (GradMode.Guard off = GradMode.noGrad()) {
                for (Tensor p : new Tensor[]{w1, b1, w2, b2}) {
                    // gradient descent as the lecture writes it: w <- w - lr dL/dw
                    p.backend().binary(dev.backprop4j.backend.BinaryOp.SUB, p.buffer(), p.shape(),
                            p.grad().mul(lr).buffer(), p.shape(), p.buffer(), p.shape());
                }
            }
        }
        float[] pred = x.matmul(w1).add(b1).sigmoid().matmul(w2).add(b2).sigmoid().toFloatArray();
        float[] want = {0, 1, 1, 0};
        for (int i = 0; i < 4; i++) {
            assertEquals(want[i], Math.round(pred[i]), "XOR row " + i + " predicted " + pred[i]);
        }
        org.junit.jupiter.api.Assertions.assertTrue(last < first / 10, "loss fell from " + first + " to " + last);
    }
}
