package dev.backprop4j.optim;

import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two steps of each optimizer against values worked out by hand. The parameter is p0 = [1, -2] and the
 * gradient is that of L = sum(c * p) with c = [0.5, -1] (constant), so g = c at every step.
 */
class OptimizerTest {
    private static final double[] C = {0.5, -1};

    private static Tensor param() {
        return Tensor.of(new double[]{1, -2}, 2).requiresGrad(true);
    }

    private static void twoSteps(Optimizer opt, Tensor p) {
        for (int i = 0; i < 2; i++) {
            opt.zeroGrad();
            p.mul(Tensor.of(C, 2)).sum().backward();
            opt.step();
        }
    }

    @Test
    void plainSgd() {
        Tensor p = param();
        twoSteps(new Sgd(List.of(p), 0.1), p);
        // p - 2 * 0.1 * c
        assertArrayEquals(new double[]{0.9, -1.8}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void sgdWithMomentum() {
        Tensor p = param();
        twoSteps(new Sgd(List.of(p), 0.1).momentum(0.9), p);
        // v1 = c, p1 = p0 - 0.1 c; v2 = 0.9 c + c = 1.9 c, p2 = p1 - 0.19 c  => p0 - 0.29 c
        assertArrayEquals(new double[]{1 - 0.145, -2 + 0.29}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void sgdWithNesterovAndWeightDecay() {
        Tensor p = param();
        twoSteps(new Sgd(List.of(p), 0.1).momentum(0.5).nesterov(true).weightDecay(0.1), p);
        // element 0: g1 = 0.5 + 0.1*1 = 0.6; v1 = 0.6; d1 = 0.6 + 0.5*0.6 = 0.9; p1 = 1 - 0.09 = 0.91
        //            g2 = 0.5 + 0.091 = 0.591; v2 = 0.3 + 0.591 = 0.891; d2 = 0.591 + 0.4455 = 1.0365; p2 = 0.91 - 0.10365
        // element 1: g1 = -1 - 0.2 = -1.2; v1 = -1.2; d1 = -1.8; p1 = -2 + 0.18 = -1.82
        //            g2 = -1 - 0.182 = -1.182; v2 = -0.6 - 1.182 = -1.782; d2 = -1.182 - 0.891 = -2.073; p2 = -1.82 + 0.2073
        assertArrayEquals(new double[]{0.80635, -1.6127}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void adam() {
        Tensor p = param();
        twoSteps(new Adam(List.of(p), 0.1), p);
        // With a constant gradient, m_hat = g and v_hat = g^2 at every step, so each step moves lr * g/(|g| + eps).
        double e0 = 0.1 * 0.5 / (0.5 + 1e-8);
        double e1 = 0.1 * 1 / (1 + 1e-8);
        assertArrayEquals(new double[]{1 - 2 * e0, -2 + 2 * e1}, p.toDoubleArray(), 1e-12);
    }

    @Test
    void adamWithL2VersusAdamW() {
        Tensor p = param();
        twoSteps(new AdamW(List.of(p), 0.1).weightDecay(0.5), p);
        // AdamW: p *= (1 - lr wd) before the Adam move of lr sign(g) (constant g): element 0: (1 * 0.95 - 0.1) * 0.95 - 0.1
        double e0 = (1 * 0.95 - 0.1 * 0.5 / (0.5 + 1e-8)) * 0.95 - 0.1 * 0.5 / (0.5 + 1e-8);
        double e1 = (-2 * 0.95 + 0.1 / (1 + 1e-8)) * 0.95 + 0.1 / (1 + 1e-8);
        assertArrayEquals(new double[]{e0, e1}, p.toDoubleArray(), 1e-12);

        Tensor q = param();
        Adam l2 = new Adam(List.of(q), 0.1).weightDecay(0.5);
        twoSteps(l2, q);
        // step 1: g = c + 0.5 p0 = [1, -2]; m1 = 0.1 g, v1 = 0.001 g^2 -> move lr * g/|g| = [0.1, -0.1]; q1 = [0.9, -1.9]
        // step 2: g2 = [0.5 + 0.45, -1 - 0.95] = [0.95, -1.95]
        double[] g1 = {1, -2};
        double[] q1 = {1 - 0.1 / (1 + 1e-8), -2 + 0.1 * 2 / (2 + 1e-8)};
        double[] g2 = {0.5 + 0.5 * q1[0], -1 + 0.5 * q1[1]};
        double[] expected = new double[2];
        for (int i = 0; i < 2; i++) {
            double m = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
            double v = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
            double mh = m / (1 - 0.81);
            double vh = v / (1 - 0.999 * 0.999);
            expected[i] = q1[i] - 0.1 * mh / (Math.sqrt(vh) + 1e-8);
        }
        assertArrayEquals(expected, q.toDoubleArray(), 1e-12);
    }

    @Test
    void gradientClippingByGlobalNorm() {
        Tensor a = Tensor.of(new double[]{3}, 1).requiresGrad(true);
        Tensor b = Tensor.of(new double[]{4}, 1).requiresGrad(true);
        a.mul(Tensor.of(new double[]{3}, 1)).add(b.mul(Tensor.of(new double[]{4}, 1))).sum().backward();
        Tensor norm = GradClip.clipByGlobalNorm(List.of(a, b), 1.0);
        assertEquals(5.0, norm.item(), 1e-12);
        assertEquals(0.6, a.grad().item(), 1e-6);
        assertEquals(0.8, b.grad().item(), 1e-6);
    }

    @Test
    void schedules() {
        LrSchedule step = LrSchedule.step(1.0, 10, 0.5);
        assertEquals(1.0, step.at(9));
        assertEquals(0.5, step.at(10));
        assertEquals(0.25, step.at(25));
        LrSchedule cos = LrSchedule.cosineWithWarmup(1.0, 10, 110, 0.0);
        assertEquals(0.1, cos.at(0), 1e-12);
        assertEquals(1.0, cos.at(9), 1e-12);
        assertEquals(1.0, cos.at(10), 1e-12);
        assertEquals(0.5, cos.at(60), 1e-12);
        assertEquals(0.0, cos.at(110), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosineWithWarmup(1, 10, 10, 0));
    }

    @Test
    void eachParameterCountsItsOwnSteps() {
        Tensor early = param();
        Tensor late = param();
        Adam adam = new Adam(List.of(early, late), 0.1);
        early.mul(Tensor.of(C, 2)).sum().backward();
        adam.step();                        // late has no gradient yet
        late.mul(Tensor.of(C, 2)).sum().backward();
        early.zeroGrad();
        adam.step();                        // late's first step: bias correction of step 1, a move of lr
        assertArrayEquals(new double[]{1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 / (1 + 1e-8)}, late.toDoubleArray(), 1e-12);
    }

    @Test
    void loadingACheckpointKeepsTheOptimizerWorking() throws Exception {
        dev.backprop4j.nn.Sequential m = dev.backprop4j.nn.Mlp.of(3, 2).seed(1).build();
        dev.backprop4j.nn.Sequential other = dev.backprop4j.nn.Mlp.of(3, 2).seed(2).build();
        java.nio.file.Path f = java.nio.file.Files.createTempFile("opt", ".safetensors");
        dev.backprop4j.io.Checkpoint.save(f, other, java.util.Map.of());
        Sgd sgd = new Sgd(m.parameters(), 0.1);
        dev.backprop4j.io.Checkpoint.load(f, m);
        float[] loaded = m.namedParameters().get("0.weight").toFloatArray();
        assertArrayEquals(other.namedParameters().get("0.weight").toFloatArray(), loaded);
        m.forward(Tensor.ones(1, 3)).sum().backward();
        sgd.step();
        float[] after = m.namedParameters().get("0.weight").toFloatArray();
        assertEquals(loaded[0] - 0.1f, after[0], 1e-6f);
        java.nio.file.Files.delete(f);
    }
    /** A parameter exempt from decay moves exactly as under an optimizer of its own with no decay. */
    @Test
    void parametersExemptFromDecayMoveAsWithoutIt() {
        for (boolean adamw : new boolean[] {true, false}) {
            Tensor w = param();
            Tensor b = param();
            Optimizer grouped = adamw ? new AdamW(List.of(w, b), 0.1).weightDecay(0.5)
                    : new Sgd(List.of(w, b), 0.1).momentum(0.9).weightDecay(0.5);
            grouped.noDecay(List.of(b));
            Tensor w2 = param();
            Tensor b2 = param();
            Optimizer decayed = adamw ? new AdamW(List.of(w2), 0.1).weightDecay(0.5)
                    : new Sgd(List.of(w2), 0.1).momentum(0.9).weightDecay(0.5);
            Optimizer plain = adamw ? new AdamW(List.of(b2), 0.1).weightDecay(0) : new Sgd(List.of(b2), 0.1).momentum(0.9);
            for (int i = 0; i < 3; i++) {
                grouped.zeroGrad();
                w.mul(Tensor.of(C, 2)).add(b.mul(b)).sum().backward();
                grouped.step();
                decayed.zeroGrad();
                plain.zeroGrad();
                w2.mul(Tensor.of(C, 2)).add(b2.mul(b2)).sum().backward();
                decayed.step();
                plain.step();
            }
            assertArrayEquals(w2.toDoubleArray(), w.toDoubleArray(), 0, "decayed as before");
            assertArrayEquals(b2.toDoubleArray(), b.toDoubleArray(), 0, "not decayed");
        }
        Tensor p = param();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Adam(List.of(p), 0.1).noDecay(List.of(param())));
        assertTrue(e.getMessage().contains("Adam.noDecay: ") && e.getMessage().contains("not one of the 1"), e.getMessage());
    }
}
