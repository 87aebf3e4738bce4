package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TapeTest {

    /** d/dx x^0 is 0 everywhere, x = 0 included (0 x 0^-1 would be NaN), as PyTorch has it. */
    @Test
    void theGradientOfPowZeroIsZeroAtZero() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Tensor.of(new double[] {0, 2, -3}, t, 3).requiresGrad(true);
            x.pow(0).sum().backward();
            assertArrayEquals(new double[] {0, 0, 0}, x.grad().toDoubleArray(), t.toString());
            Tensor z = Tensor.of(new double[] {0, 2}, t, 2).requiresGrad(true);
            z.pow(1).sum().backward();
            assertArrayEquals(new double[] {1, 1}, z.grad().toDoubleArray(), "x^1 at 0: " + t);
        }
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsUntilZeroGrad() {
        Tensor x = Tensor.scalar(3.0).requiresGrad(true);
        x.mul(x).backward();          // d(x^2)/dx = 6: a node used twice sums both paths
        assertEquals(6.0, x.grad().item());
        x.mul(2.0).backward();        // + 2
        assertEquals(8.0, x.grad().item());
        x.zeroGrad();
        assertNull(x.grad());
        x.mul(2.0).backward();
        assertEquals(2.0, x.grad().item());
    }

    @Test
    void secondBackwardOverAReleasedGraphFailsClearly() {
        Tensor x = Tensor.scalar(2.0).requiresGrad(true);
        Tensor y = x.exp().mul(3.0);
        y.backward();
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("already released"), e.getMessage());
        assertTrue(e.getMessage().contains("retainGraph"), e.getMessage());
    }

    @Test
    void retainGraphAllowsASecondBackward() {
        Tensor x = Tensor.scalar(2.0).requiresGrad(true);
        Tensor y = x.mul(x);
        y.backward(Tensor.scalar(1.0), true);
        y.backward(Tensor.scalar(1.0), false);
        assertEquals(8.0, x.grad().item());
    }

    @Test
    void nonScalarBackwardNeedsASeed() {
        Tensor x = Tensor.ones(2, 3).requiresGrad(true);
        Tensor y = x.mul(2.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, y::backward);
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("seed"), e.getMessage());
        y.backward(Tensor.full(0.5, y.shape(), DType.FLOAT32, y.device()));
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1}, x.grad().toFloatArray());
    }

    @Test
    void noGradAndDetachStopRecording() {
        Tensor x = Tensor.ones(3).requiresGrad(true);
        try (GradMode.Guard off = GradMode.noGrad()) {
            Tensor y = x.mul(2.0);
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
        }
        assertTrue(x.mul(2.0).requiresGrad());
        Tensor d = x.mul(2.0).detach();
        assertFalse(d.requiresGrad());
        assertTrue(d.isLeaf());
    }

    @Test
    void deepGraphsDoNotOverflowTheStack() {
        Tensor x = Tensor.scalar(1.0).requiresGrad(true);
        Tensor y = x;
        for (int i = 0; i < 100_000; i++) {
            y = y.add(1e-6);
        }
        y.backward();
        assertEquals(1.0, x.grad().item());
    }

    @Test
    void castIsAnOpOnTheTape() {
        Tensor x = Tensor.of(new double[]{1, 2, 3}, 3).requiresGrad(true);
        Tensor y = x.to(DType.FLOAT32).mul(2.0).to(DType.FLOAT64).sum();
        y.backward();
        assertSame(DType.FLOAT64, x.grad().dtype());
        assertArrayEquals(new double[]{2, 2, 2}, x.grad().toDoubleArray());
    }

    @Test
    void explainDrawsTheLecturesGraph() {
        Tensor w = Tensor.scalar(-2.0).requiresGrad(true).name("w");
        Tensor x = Tensor.scalar(5.0).requiresGrad(true).name("x");
        Tensor b = Tensor.scalar(3.0).requiresGrad(true).name("b");
        Tensor f = w.mul(x).add(b).name("f");
        String dot = Explain.backwardToDot(f);
        assertTrue(dot.startsWith("digraph"), dot);
        assertTrue(dot.contains("{w | value -2.000 | grad 5.000}"), dot);
        assertTrue(dot.contains("{x | value 5.000 | grad -2.000}"), dot);
        assertTrue(dot.contains("{f | value -7.000 | grad 1.000}"), dot);
        // upstream 1 x local 5 = downstream 5 along the edge into w
        assertTrue(dot.contains("1.000 x 5.000 = 5.000"), dot);
        assertEquals(5.0, w.grad().item());
    }

    @Test
    void aLeafsOwnBackwardGivesOne() {
        Tensor x = Tensor.scalar(3.0).requiresGrad(true);
        x.backward();
        assertEquals(1.0, x.grad().item());
    }

    @Test
    void explainShowsEachContributionOfATensorUsedTwice() {
        Tensor w = Tensor.scalar(3.0, DType.FLOAT64).requiresGrad(true).name("w");
        String dot = Explain.backwardToDot(w.mul(w));
        assertEquals(2, dot.split("1.000 x 3.000 = 3.000", -1).length - 1, dot);
        assertEquals(6.0, w.grad().item());
    }

    @Test
    void reshapeToTheSameShapeIsStillASeparateView() {
        Tensor p = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2);
        Tensor v = p.reshape(2, 2);
        v.close();
        assertFalse(p.isClosed());
        assertArrayEquals(new float[]{1, 2, 3, 4}, p.flatten().toFloatArray());
        Tensor empty = Tensor.zeros(0, 3);
        assertEquals(dev.backprop4j.core.Shape.of(0, 3), empty.flatten().shape());
    }

    @Test
    void batchedTimesSharedMatmulWithAnEmptyInnerDimension() {
        Tensor a = Tensor.zeros(2, 3, 0).requiresGrad(true);
        Tensor b = Tensor.zeros(0, 4).requiresGrad(true);
        a.matmul(b).sum().backward();
        assertEquals(dev.backprop4j.core.Shape.of(0, 4), b.grad().shape());
    }
}
