package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.core.Shape;

/**
 * Float32 fast paths for the elementwise work of a training step: same-shape and row-broadcast
 * (bias) arithmetic and ReLU. Each computes exactly what the reference loop in {@link CpuBackend}
 * computes; the tests compare them.
 */
final class FloatKernels {

    private FloatKernels() {
    }

    /** Whether {@link VectorKernels#unary} and {@link VectorKernels#unaryBackward} take this op. */
    static boolean vectorUnary(dev.backprop4j.backend.UnaryOp op) {
        return switch (op) {
            case LEAKY_RELU, SIGMOID, TANH, GELU -> true;
            default -> false;
        };
    }

    static void relu(float[] x, float[] y) {
        Parallel.forRange(x.length, CpuBackend.GRAIN, (lo, hi) -> {
            if (CpuGemm.VECTOR) {
                VectorKernels.relu(x, y, lo, hi);
                return;
            }
            for (int i = lo; i < hi; i++) {
                float v = x[i];
                y[i] = v > 0 ? v : 0f;
            }
        });
    }

    static void reluBackward(float[] x, float[] dy, float[] dx) {
        Parallel.forRange(x.length, CpuBackend.GRAIN, (lo, hi) -> {
            if (CpuGemm.VECTOR) {
                VectorKernels.reluBackward(x, dy, dx, lo, hi);
                return;
            }
            for (int i = lo; i < hi; i++) {
                dx[i] = x[i] > 0 ? dy[i] : 0f;
            }
        });
    }

    /**
     * SGD on float32 (see Backend#sgdStep), in float arithmetic in the reference's order, with every constant
     * computed in double and rounded once ((float) (1 - dampening), not 1f - (float) dampening), as the CUDA kernel
     * and PyTorch do.
     */
    static void sgd(float[] p, float[] g, float[] v, double lr, double momentum, double dampening, double weightDecay,
                    boolean nesterov, boolean first) {
        float tLr = (float) lr, tMomentum = (float) momentum, keep = (float) (1 - dampening), wd = (float) weightDecay;
        Parallel.forRange(p.length, CpuBackend.GRAIN, (lo, hi) -> {
            if (v == null || momentum == 0) {
                for (int i = lo; i < hi; i++) {
                    p[i] -= tLr * (g[i] + wd * p[i]);
                }
            } else if (first) {
                for (int i = lo; i < hi; i++) {
                    float gi = g[i] + wd * p[i];
                    v[i] = gi;
                    p[i] -= tLr * (nesterov ? gi + tMomentum * gi : gi);
                }
            } else {
                for (int i = lo; i < hi; i++) {
                    float gi = g[i] + wd * p[i];
                    float vi = tMomentum * v[i] + keep * gi;
                    v[i] = vi;
                    p[i] -= tLr * (nesterov ? gi + tMomentum * vi : vi);
                }
            }
        });
    }

    /**
     * Adam / AdamW on float32 (see Backend#adamStep), in float arithmetic in the reference's order, constants
     * computed in double and rounded once, as the CUDA kernel and PyTorch do; bias corrections bc1, bc2 from the caller.
     */
    static void adam(float[] p, float[] g, float[] m, float[] v, double lr, double beta1, double beta2, double eps,
                     double weightDecay, boolean decoupled, double bc1, double bc2) {
        float tLr = (float) lr, b1 = (float) beta1, oneMinusB1 = (float) (1 - beta1), b2 = (float) beta2;
        float oneMinusB2 = (float) (1 - beta2), tEps = (float) eps, wd = (float) weightDecay;
        float lrWd = (float) (lr * weightDecay), tBc1 = (float) bc1, tBc2 = (float) bc2;
        Parallel.forRange(p.length, CpuBackend.GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float pi = p[i];
                float gi = g[i];
                if (decoupled) {
                    pi -= lrWd * pi;
                } else {
                    gi += wd * pi;
                }
                float mi = b1 * m[i] + oneMinusB1 * gi;
                float vi = b2 * v[i] + oneMinusB2 * gi * gi;
                m[i] = mi;
                v[i] = vi;
                p[i] = pi - tLr * (mi / tBc1) / ((float) Math.sqrt(vi / tBc2) + tEps);
            }
        });
    }

    /**
     * out = a (op) b for ADD, SUB, MUL, DIV when both shapes equal the output's, or when b is a row
     * vector broadcast over a's rows; returns false (doing nothing) for any other case.
     */
    static boolean binary(BinaryOp op, float[] a, Shape aShape, float[] b, Shape bShape, float[] out, Shape outShape) {
        int code = switch (op) {
            case ADD -> 0;
            case SUB -> 1;
            case MUL -> 2;
            case DIV -> 3;
            default -> -1;
        };
        if (code < 0 || !aShape.equals(outShape)) {
            return false;
        }
        int n = out.length;
        if (bShape.equals(outShape)) {
            Parallel.forRange(n, CpuBackend.GRAIN, (lo, hi) -> apply(code, a, lo, b, lo, out, lo, hi - lo));
            return true;
        }
        int cols = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        boolean rowVector = bShape.size() == cols && (bShape.rank() == 0 ? cols == 1 : bShape.dim(-1) == cols);
        if (!rowVector || cols == 0) {
            return false;
        }
        int rows = n / cols;
        Parallel.forRange(rows, Math.max(1, CpuBackend.GRAIN / cols), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                apply(code, a, r * cols, b, 0, out, r * cols, cols);
            }
        });
        return true;
    }

    private static void apply(int code, float[] a, int ao, float[] b, int bo, float[] out, int oo, int len) {
        switch (code) {
            case 0 -> {
                for (int i = 0; i < len; i++) {
                    out[oo + i] = a[ao + i] + b[bo + i];
                }
            }
            case 1 -> {
                for (int i = 0; i < len; i++) {
                    out[oo + i] = a[ao + i] - b[bo + i];
                }
            }
            case 2 -> {
                for (int i = 0; i < len; i++) {
                    out[oo + i] = a[ao + i] * b[bo + i];
                }
            }
            default -> {
                for (int i = 0; i < len; i++) {
                    out[oo + i] = a[ao + i] / b[bo + i];
                }
            }
        }
    }

    /**
     * out[o, i] = sum over j of x[o, j, i] (float32 in, double accumulators as the reference loop): the bias
     * gradient, a column sum of [batch, features]. Columns are split over the cores.
     */
    static void sumColumns(float[] x, int outer, int n, int inner, float[] out) {
        for (int o = 0; o < outer; o++) {
            int base = o * n * inner;
            int ob = o * inner;
            Parallel.forRange(inner, Math.max(1, CpuBackend.GRAIN / Math.max(1, n)), (lo, hi) -> {
                double[] acc = new double[hi - lo];
                for (int j = 0; j < n; j++) {
                    int row = base + j * inner + lo;
                    for (int i = 0; i < acc.length; i++) {
                        acc[i] += x[row + i];
                    }
                }
                for (int i = 0; i < acc.length; i++) {
                    out[ob + lo + i] = (float) acc[i];
                }
            });
        }
    }
}
