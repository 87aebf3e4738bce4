package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;

import java.util.function.DoubleUnaryOperator;

import static dev.backprop4j.backend.cpu.Parallel.GRAIN;

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

    static void biasActivation(UnaryOp op, Buffer z, Buffer bias, Buffer residual, int rows, int cols, double p1,
                               double p2, Buffer y) {
        if (residual != null && op != null) {
            throw new IllegalArgumentException("biasActivation: a residual is added to a layer without activation, "
                    + "got " + op);
        }
        CpuBuffer zs = cpu(z);
        CpuBuffer b = bias == null ? null : cpu(bias);
        CpuBuffer res = residual == null ? null : cpu(residual);
        CpuBuffer ys = cpu(y);
        DoubleUnaryOperator f = op == null ? v -> v : CpuMath.forward(op, p1, p2);
        Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                for (int c = 0; c < cols; c++) {
                    int i = r * cols + c;
                    if (b != null) {
                        zs.set(i, zs.get(i) + b.get(c));
                    }
                    ys.set(i, res == null ? f.applyAsDouble(zs.get(i)) : zs.get(i) + res.get(i));
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

    static void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer lr, Buffer steps,
                        double momentum, double dampening, double weightDecay, boolean nesterov) {
        double rate = cpu(lr).get(0);
        for (int t = 0; t < params.length; t++) {
            if (grads[t] != null) {
                long step = countStep(steps, t);
                sgdStep(params[t], grads[t], velocities == null ? null : velocities[t], rate, momentum, dampening,
                        weightDecay, nesterov, step == 1);
            }
        }
    }

    /** steps[t] += 1; returns the new count, the step an update of parameter t is for. */
    static long countStep(Buffer steps, int t) {
        CpuBuffer s = cpu(steps);
        double step = s.get(t) + 1;
        s.set(t, step);
        return (long) step;
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

    static void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer lr, Buffer steps,
                         double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        double rate = cpu(lr).get(0);
        for (int t = 0; t < params.length; t++) {
            if (grads[t] != null) {
                adamStep(params[t], grads[t], m[t], v[t], rate, beta1, beta2, eps, weightDecay, decoupled,
                        countStep(steps, t));
            }
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

    // ---- gradient clipping --------------------------------------------------------------------------

    /** norm[0] = sqrt(sum of every g^2), in order, in double; then the scale where it is below 1 (Backend). */
    static void clipGradNorm(Buffer[] grads, double maxNorm, Buffer norm) {
        double sum = 0;
        for (Buffer g : grads) {
            CpuBuffer gs = cpu(g);
            for (int i = 0; i < gs.size(); i++) {
                double v = gs.get(i);
                sum += v * v;
            }
        }
        double total = Math.sqrt(sum);
        cpu(norm).set(0, total);
        double coef = maxNorm / (total + 1e-6);
        if (coef >= 1) {
            return;
        }
        for (Buffer g : grads) {
            CpuBuffer gs = cpu(g);
            Parallel.forRange(gs.size(), GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    gs.set(i, gs.get(i) * coef);
                }
            });
        }
    }
}
