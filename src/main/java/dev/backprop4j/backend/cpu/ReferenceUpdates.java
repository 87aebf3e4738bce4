package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;

import java.util.function.DoubleUnaryOperator;

import static dev.backprop4j.backend.cpu.CpuReference.GRAIN;

/**
 * The reference definitions of the fused primitives that write in place, for {@link CpuReference}: the dense
 * layer's epilogue (bias + activation) and its backward (with the bias gradient), and the optimizer updates over a
 * list of parameters with the learning rate and step counts read from a buffer. Plain loops in double, in the
 * order the formulas of {@link dev.backprop4j.backend.Backend} state.
 */
final class ReferenceUpdates {
    private ReferenceUpdates() {
    }

    private static CpuBuffer cpu(Buffer b) {
        return (CpuBuffer) b;
    }

    // ---- fused layer epilogues ------------------------------------------------------------------------

    static void biasActivation(UnaryOp op, Buffer z, Buffer bias, int rows, int cols, double p1, double p2, Buffer y) {
        CpuBuffer zs = cpu(z);
        CpuBuffer b = bias == null ? null : cpu(bias);
        CpuBuffer ys = cpu(y);
        DoubleUnaryOperator f = op == null ? v -> v : CpuMath.forward(op, p1, p2);
        Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                for (int c = 0; c < cols; c++) {
                    int i = r * cols + c;
                    if (b != null) {
                        zs.set(i, zs.get(i) + b.get(c));
                    }
                    ys.set(i, f.applyAsDouble(zs.get(i)));
                }
            }
        });
    }

    static void biasActivationBackward(UnaryOp op, Buffer z, Buffer y, Buffer dy, int rows, int cols, double p1,
                                       double p2, Buffer dz, Buffer dbias) {
        CpuBuffer xs = z != null ? cpu(z) : op == UnaryOp.RELU ? cpu(y) : null; // y > 0 exactly where z > 0
        CpuBuffer ys = y == null ? null : cpu(y);
        CpuBuffer g = cpu(dy);
        CpuBuffer d = dz == null ? null : cpu(dz);
        CpuMath.LocalGrad f = op == null ? null : CpuMath.derivative(op, p1, p2);
        double[] sums = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                double v = f == null ? g.get(i) : f.apply(xs == null ? 0 : xs.get(i), ys == null ? 0 : ys.get(i), g.get(i));
                if (d != null) {
                    d.set(i, v);
                    v = d.get(i); // the sum adds what was stored, rounded to the buffer's type, as a GPU does
                }
                sums[c] += v;
            }
        }
        if (dbias != null) {
            CpuBuffer db = cpu(dbias);
            for (int c = 0; c < cols; c++) {
                db.set(c, sums[c]);
            }
        }
    }

    // ---- optimizers -------------------------------------------------------------------------------

    static void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer hyper, double momentum,
                        double dampening, double weightDecay, boolean nesterov) {
        double[] h = cpu(hyper).doubles();
        for (int t = 0; t < params.length; t++) {
            sgdStep(params[t], grads[t], velocities == null ? null : velocities[t], h[0], momentum, dampening,
                    weightDecay, nesterov, h[1 + t] == 1);
        }
    }

    /** One parameter's SGD update. */
    private static void sgdStep(Buffer param, Buffer grad, Buffer velocity, double lr, double momentum,
                                double dampening, double weightDecay, boolean nesterov, boolean firstStep) {
        CpuBuffer p = cpu(param);
        CpuBuffer g = cpu(grad);
        CpuBuffer v = velocity == null ? null : cpu(velocity);
        Parallel.forRange(p.size(), GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                double gi = g.get(i) + weightDecay * p.get(i);
                double step = gi;
                if (momentum != 0) {
                    double vi = firstStep ? gi : momentum * v.get(i) + (1 - dampening) * gi;
                    v.set(i, vi);
                    step = nesterov ? gi + momentum * vi : vi;
                }
                p.set(i, p.get(i) - lr * step);
            }
        });
    }

    static void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer hyper, double beta1,
                         double beta2, double eps, double weightDecay, boolean decoupled) {
        double[] h = cpu(hyper).doubles();
        for (int t = 0; t < params.length; t++) {
            adamStep(params[t], grads[t], m[t], v[t], h[0], beta1, beta2, eps, weightDecay, decoupled, (long) h[1 + t]);
        }
    }

    /** One parameter's Adam update at step {@code step}. */
    private static void adamStep(Buffer param, Buffer grad, Buffer m, Buffer v, double lr, double beta1, double beta2,
                                 double eps, double weightDecay, boolean decoupled, long step) {
        CpuBuffer p = cpu(param);
        CpuBuffer g = cpu(grad);
        CpuBuffer ms = cpu(m);
        CpuBuffer vs = cpu(v);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        Parallel.forRange(p.size(), GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                double pi = p.get(i);
                double gi = g.get(i);
                if (decoupled) {
                    pi -= lr * weightDecay * pi;
                } else {
                    gi += weightDecay * pi;
                }
                double mi = beta1 * ms.get(i) + (1 - beta1) * gi;
                double vi = beta2 * vs.get(i) + (1 - beta2) * gi * gi;
                ms.set(i, mi);
                vs.set(i, vi);
                p.set(i, pi - lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps));
            }
        });
    }
}
