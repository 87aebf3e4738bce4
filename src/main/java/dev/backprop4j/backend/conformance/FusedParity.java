package dev.backprop4j.backend.conformance;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Distribution;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The parity checks of the fused primitives, those a training step is made of (see {@link Conformance} for the
 * method and tolerances): cross-entropy (scaled, with a per-row or a shared gradient), the running metrics, the dense
 * layer's epilogue and its backward (with the column sums split over row chunks at the larger sizes), the
 * multi-tensor optimizer updates reading their learning rate from device memory and counting their steps there,
 * gradient clipping by global norm, and random draws from a counter on the device.
 */
final class FusedParity extends ParityHarness {

    /** The epilogue's activations: null is none (the bias alone). */
    private static final UnaryOp[] EPILOGUES = {null, UnaryOp.RELU, UnaryOp.LEAKY_RELU, UnaryOp.SIGMOID, UnaryOp.TANH,
        UnaryOp.GELU};

    FusedParity(Backend device) {
        super(device);
    }

    List<ParityCheck> all() {
        List<ParityCheck> out = new ArrayList<>();
        out.add(check("accumulateMetrics", DType.INT32, this::accumulateMetrics));
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT64)) {
            out.add(check("crossEntropy", t, this::crossEntropy));
            out.add(check("crossEntropyBackward", t, this::crossEntropyBackward));
            out.add(check("accumulateMetrics", t, this::accumulateMetrics));
            out.add(check("biasActivation", t, this::biasActivation));
            out.add(check("biasActivationBackward", t, this::biasActivationBackward));
            out.add(check("sgdStep", t, this::sgdStep));
            out.add(check("adamStep", t, this::adamStep));
            out.add(check("clipGradNorm", t, this::clipGradNorm));
            out.add(check("layerNorm", t, this::layerNorm));
            out.add(check("layerNormBackward", t, this::layerNormBackward));
        }
        for (DType t : DType.values()) {
            if (t.isArithmetic()) {
                out.add(check("random from a device counter", t, this::randomFromCounter));
            }
        }
        return out;
    }

    private static String name(UnaryOp op) {
        return op == null ? "bias only" : op.opName();
    }

    private void crossEntropy(DType t, int n) {
        for (double scale : new double[] {1, 1.0 / n}) {
            compare("loss and probabilities, scale " + scale, n, b -> {
                Buffer logits = in(b, t, n * 10L);
                Buffer labels = labels(b, n, 10);
                Buffer loss = b.allocate(t, n);
                Buffer probs = b.allocate(t, n * 10L);
                b.crossEntropy(logits, labels, n, 10, scale, loss, probs);
                release(logits, labels);
                return out(loss, probs);
            });
        }
    }

    private void crossEntropyBackward(DType t, int n) {
        for (boolean shared : new boolean[] {false, true}) {
            compare("dlogits, " + (shared ? "one shared gradient, scale 1/n" : "a gradient per row"), n, b -> {
                Buffer logits = in(b, t, n * 10L);
                Buffer labels = labels(b, n, 10);
                Buffer loss = b.allocate(t, n);
                Buffer probs = b.allocate(t, n * 10L);
                double scale = shared ? 1.0 / n : 1;
                b.crossEntropy(logits, labels, n, 10, scale, loss, probs);
                Buffer dloss = in(b, t, shared ? 1 : n);
                Buffer dlogits = b.allocate(t, n * 10L);
                b.crossEntropyBackward(probs, labels, dloss, scale, n, 10, dlogits);
                release(logits, labels, loss, probs, dloss);
                return out(dlogits);
            });
        }
    }

    /** Checked in float64 totals; for INT32 the logits are float32 with ties (the first maximum must win). */
    private void accumulateMetrics(DType t, int n) {
        compare("metrics after two batches", n, b -> {
            DType lt = t == DType.INT32 ? DType.FLOAT32 : t;
            Buffer metrics = fill(b, DType.FLOAT64, 3, 0);
            for (int batch = 0; batch < 2; batch++) {
                Buffer loss = in(b, lt, 1);
                Buffer logits = t == DType.INT32 ? in(b, lt, n * 10L, 0, 1.5) : in(b, lt, n * 10L);
                if (t == DType.INT32) {
                    Buffer rounded = b.allocate(lt, n * 10L);
                    b.unary(UnaryOp.CLAMP, logits, rounded, 0, 1); // many exact ties at 1
                    release(logits);
                    logits = rounded;
                }
                Buffer labels = labels(b, n, 10);
                b.accumulateMetrics(loss, logits, labels, n, 10, metrics);
                release(loss, logits, labels);
            }
            return out(metrics);
        });
        if (t != DType.INT32) {
            compare("metrics of a regression batch (no labels): loss and rows", n, b -> {
                Buffer metrics = fill(b, DType.FLOAT64, 3, 0);
                Buffer loss = in(b, t, 1);
                Buffer outputs = in(b, t, n);
                b.accumulateMetrics(loss, outputs, null, n, 0, metrics);
                release(loss, outputs);
                return out(metrics);
            });
        }
    }

    /** Each epilogue with y of t and, for float32, in bfloat16 (autocast's activations); a residual; in place. */
    private void biasActivation(DType t, int n) {
        for (UnaryOp op : EPILOGUES) {
            for (DType yType : t == DType.FLOAT32 ? List.of(t, DType.BFLOAT16) : List.of(t)) {
                compareRounded(name(op) + ", z kept" + (yType == t ? "" : ", y in bfloat16"), n, b -> {
                    Buffer z = in(b, t, n * 37L);
                    Buffer bias = in(b, t, 37);
                    Buffer y = b.allocate(yType, n * 37L);
                    b.biasActivation(op, z, bias, null, n, 37, slope(op), 0, y);
                    release(bias);
                    return out(z, y);
                });
            }
        }
        compare("bias and a residual, in place", n, b -> {
            Buffer z = in(b, t, n * 37L);
            Buffer bias = in(b, t, 37);
            Buffer residual = in(b, t, n * 37L);
            b.biasActivation(null, z, bias, residual, n, 37, 0, 0, z);
            release(bias, residual);
            return out(z);
        });
        compare("relu in place, no bias", n, b -> {
            Buffer z = in(b, t, n * 37L);
            b.biasActivation(UnaryOp.RELU, z, null, null, n, 37, 0, 0, z);
            return out(z);
        });
    }

    private static double slope(UnaryOp op) {
        return op == UnaryOp.LEAKY_RELU ? 0.01 : 0;
    }

    /** Each epilogue's backward, with y of t and, for float32, in bfloat16 (autocast's activations). */
    private void biasActivationBackward(DType t, int n) {
        for (UnaryOp op : EPILOGUES) {
            for (boolean keepZ : new boolean[] {true, false}) {
                for (DType yType : t == DType.FLOAT32 ? List.of(t, DType.BFLOAT16) : List.of(t)) {
                    if (!keepZ && op != UnaryOp.RELU || yType != t && op != null
                            && keepZ != (op.derivativeNeedsInput() && op != UnaryOp.RELU)) {
                        continue; // a bfloat16 y comes with z exactly where Dense keeps z
                    }
                    compare(name(op) + (keepZ ? "" : " from y alone") + (yType == t ? "" : ", y in bfloat16")
                            + ", dz and the bias sums", n, b -> {
                        Buffer z = in(b, t, n * 37L);
                        Buffer bias = in(b, t, 37);
                        Buffer y = b.allocate(yType, n * 37L);
                        if (yType == t) {
                            b.biasActivation(op, z, bias, null, n, 37, slope(op), 0, y);
                        } else { // the same bfloat16 y on both sides (a cast), whose epilogues may round apart
                            Buffer y32 = in(b, t, n * 37L);
                            b.cast(y32, y);
                            release(y32);
                        }
                        Buffer dy = in(b, t, n * 37L);
                        Buffer dz = op == null ? null : b.allocate(t, n * 37L);
                        Buffer dbias = b.allocate(t, 37);
                        b.biasActivationBackward(op, keepZ ? z : null, y, dy, n, 37, slope(op), 0, dz, dbias);
                        release(z, bias, y, dy);
                        return op == null ? out(dbias) : out(dz, dbias);
                    });
                }
            }
        }
    }

    /** Rows of 37 and of 1, with weight and bias and without; y, mean and rstd. */
    private void layerNorm(DType t, int n) {
        for (int cols : new int[] {37, 1}) {
            for (boolean affine : new boolean[] {true, false}) {
                compare(cols + " columns" + (affine ? "" : ", no weight or bias"), n, b -> {
                    Buffer x = in(b, t, (long) n * cols, -3, 5);
                    Buffer gamma = affine ? in(b, t, cols) : null;
                    Buffer beta = affine ? in(b, t, cols) : null;
                    Buffer y = b.allocate(t, (long) n * cols);
                    Buffer mean = b.allocate(t, n);
                    Buffer rstd = b.allocate(t, n);
                    b.layerNorm(x, gamma, beta, n, cols, 1e-5, y, mean, rstd);
                    release(x, gamma, beta);
                    return out(y, mean, rstd);
                });
            }
        }
    }

    /** dx, dgamma and dbeta from one forward, with weight and without; dx alone; the parameters' sums alone. */
    private void layerNormBackward(DType t, int n) {
        for (String wanted : new String[] {"dx, dweight, dbias", "dx without weight", "dweight and dbias alone"}) {
            compare(wanted, n, b -> {
                boolean affine = !wanted.equals("dx without weight");
                Buffer x = in(b, t, n * 37L);
                Buffer gamma = affine ? in(b, t, 37) : null;
                Buffer y = b.allocate(t, n * 37L);
                Buffer mean = b.allocate(t, n);
                Buffer rstd = b.allocate(t, n);
                b.layerNorm(x, gamma, null, n, 37, 1e-5, y, mean, rstd);
                Buffer dy = in(b, t, n * 37L);
                Buffer dx = wanted.startsWith("dx") ? b.allocate(t, n * 37L) : null;
                Buffer dgamma = affine ? b.allocate(t, 37) : null;
                Buffer dbeta = affine ? b.allocate(t, 37) : null;
                b.layerNormBackward(x, mean, rstd, gamma, dy, n, 37, dx, dgamma, dbeta);
                release(x, gamma, y, mean, rstd, dy);
                return dx == null ? out(dgamma, dbeta) : affine ? out(dx, dgamma, dbeta) : out(dx);
            });
        }
    }

    /** lr (FLOAT64 [1]) and zero step counts (FLOAT64 [count]) on b. */
    private Buffer[] hyper(Backend b, double lr, int count) {
        Buffer rate = b.allocate(DType.FLOAT64, 1);
        b.write(rate, new double[] {lr});
        return new Buffer[] {rate, fill(b, DType.FLOAT64, count, 0)};
    }

    /**
     * Three parameters of sizes n, 2n + 1 and 5, the last without a gradient on the first step (skipped, its count
     * unchanged); then 26 parameters (two launches). The step counts are outputs: the device counts them.
     */
    private void sgdStep(DType t, int n) {
        for (boolean nesterov : new boolean[] {false, true}) {
            compare("momentum 0.9, dampening 0, weight decay 0.01, nesterov=" + nesterov, n, b -> {
                long[] sizes = {n, 2L * n + 1, 5};
                Buffer[] p = new Buffer[3];
                Buffer[] g = new Buffer[3];
                Buffer[] v = new Buffer[3];
                for (int i = 0; i < 3; i++) {
                    p[i] = in(b, t, sizes[i]);
                    g[i] = in(b, t, sizes[i]);
                    v[i] = fill(b, t, sizes[i], 0);
                }
                Buffer[] h = hyper(b, 0.1, 3);
                b.sgdStep(p, new Buffer[] {g[0], g[1], null}, v, h[0], h[1], 0.9, 0, 0.01, nesterov);
                b.write(h[0], new double[] {0.05});
                b.sgdStep(p, g, v, h[0], h[1], 0.9, 0, 0.01, nesterov);
                release(g);
                release(h[0]);
                return out(p[0], p[1], p[2], v[0], v[1], v[2], h[1]);
            });
        }
        for (int count : new int[] {26, 25}) {
            String what = count == 26 ? "26 parameters without momentum"
                    : "25 parameters without momentum, the last empty (a launch of no elements still counts its step)";
            compare(what, n, b -> {
                Buffer[] p = new Buffer[count];
                Buffer[] g = new Buffer[count];
                for (int i = 0; i < count; i++) {
                    long size = count == 25 && i == 24 ? 0 : n + i;
                    p[i] = in(b, t, size);
                    g[i] = in(b, t, size);
                }
                Buffer[] h = hyper(b, 0.1, count);
                b.sgdStep(p, g, null, h[0], h[1], 0, 0, 0, false);
                release(g);
                release(h[0]);
                Buffer[] outputs = Arrays.copyOf(p, count + 1);
                outputs[count] = h[1];
                return outputs;
            });
        }
    }

    /** Two parameters, three steps, the second parameter without a gradient on the first (counts 3 and 2). */
    private void adamStep(DType t, int n) {
        for (boolean decoupled : new boolean[] {false, true}) {
            compare(decoupled ? "AdamW" : "Adam", n, b -> {
                long[] sizes = {n, 3};
                Buffer[] p = new Buffer[2];
                Buffer[] g = new Buffer[2];
                Buffer[] m = new Buffer[2];
                Buffer[] v = new Buffer[2];
                for (int i = 0; i < 2; i++) {
                    p[i] = in(b, t, sizes[i]);
                    g[i] = in(b, t, sizes[i]);
                    m[i] = fill(b, t, sizes[i], 0);
                    v[i] = fill(b, t, sizes[i], 0);
                }
                Buffer[] h = hyper(b, 1e-3, 2);
                for (int step = 1; step <= 3; step++) {
                    b.write(h[0], new double[] {1e-3 * step});
                    b.adamStep(p, step == 1 ? new Buffer[] {g[0], null} : g, m, v, h[0], h[1], 0.9, 0.999, 1e-8,
                            0.01, decoupled);
                }
                release(g);
                release(h[0]);
                return out(p[0], p[1], m[0], m[1], v[0], v[1], h[1]);
            });
        }
    }

    /**
     * The global norm of gradients of sizes n, 2n + 1 and 7 (and of 26, two launches; and of 25, the last empty, so
     * the last launch has no elements but still finishes the norm), clipped to half of it, and not clipped (a bound
     * above it).
     */
    private void clipGradNorm(DType t, int n) {
        for (int count : new int[] {3, 26, 25}) {
            for (double fraction : new double[] {0.5, 4}) {
                compare(count + " gradients, bound " + fraction + " x the norm", n, b -> {
                    Buffer[] g = new Buffer[count];
                    double sum = 0;
                    for (int i = 0; i < count; i++) {
                        g[i] = in(b, t, i == 0 ? n : i == 1 ? 2L * n + 1 : count == 25 && i == 24 ? 0 : 7);
                        for (double x : b.readDoubles(g[i])) {
                            sum += x * x;
                        }
                    }
                    Buffer norm = b.allocate(DType.FLOAT64, 1);
                    b.clipGradNorm(g, fraction * Math.sqrt(sum), norm);
                    Buffer[] outputs = Arrays.copyOf(g, count + 1);
                    outputs[count] = norm;
                    return outputs;
                });
            }
        }
    }

    /** Two draws from a counter on the device: the second continues where the first ended. */
    private void randomFromCounter(DType t, int n) {
        for (Distribution d : Distribution.values()) {
            compare(d.toString(), n, b -> {
                Buffer counter = b.allocate(DType.FLOAT64, 1);
                b.write(counter, new double[] {3});
                Buffer x = b.allocate(t, n);
                Buffer y = b.allocate(t, n + 1);
                b.random(x, d, 0.3, 1.5, 42, counter);
                b.random(y, d, 0.3, 1.5, 42, counter);
                return out(x, y, counter);
            });
        }
    }
}
