package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.core.Shape;

/**
 * Float32 fast paths in plain Java (C2 vectorises the loops): same-shape and row-broadcast (bias) arithmetic,
 * column sums, SGD and Adam, and ReLU and GEMM for when the Vector API is absent. Each computes what the reference
 * ({@link CpuReference}) computes, in float arithmetic; {@link CpuBackend} decides when they run, and the tests
 * compare them with the reference.
 */
final class FloatKernels {

    private FloatKernels() {
    }

    /** y = max(x, 0) over [lo, hi) without the Vector API (C2 vectorises the loop). */
    static void relu(float[] x, float[] y, int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            float v = x[i];
            y[i] = v > 0 ? v : 0f;
        }
    }

    /** dx = dy where x > 0, else 0, over [lo, hi) without the Vector API. */
    static void reluBackward(float[] x, float[] dy, float[] dx, int lo, int hi) {
        for (int i = lo; i < hi; i++) {
            dx[i] = x[i] > 0 ? dy[i] : 0f;
        }
    }

    /**
     * C = alpha op(A) op(B) + beta C for one float32 matrix, without the Vector API: each row of C as a sum of scaled
     * rows of op(B) (vectorised by C2), op(B) transposed once into a copy when B is stored [n, k].
     */
    static void sgemm(boolean tA, boolean tB, int m, int n, int k, float alpha, float[] a, int oa, float[] b, int ob,
                      float beta, float[] c, int oc) {
        if (beta == 0f) {
            java.util.Arrays.fill(c, oc, oc + m * n, 0f);
        } else if (beta != 1f) {
            for (int i = oc; i < oc + m * n; i++) {
                c[i] *= beta;
            }
        }
        float[] bm = tB ? transposeCopy(b, ob, n, k) : b;
        int bo = tB ? 0 : ob;
        Parallel.forRange(m, Math.max(1, 4096 / Math.max(1, n)), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int ci = oc + i * n;
                for (int p = 0; p < k; p++) {
                    float av = alpha * (tA ? a[oa + p * m + i] : a[oa + i * k + p]);
                    if (av == 0f) {
                        continue;
                    }
                    int bi = bo + p * n;
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += av * bm[bi + j];
                    }
                }
            }
        });
    }

    /** The [k, n] row-major transpose of the [n, k] matrix at b[off]. */
    private static float[] transposeCopy(float[] b, int off, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = b[off + r * cols + c];
            }
        }
        return t;
    }

    /**
     * SGD on float32 (see Backend#sgdStep), in float arithmetic in the reference's order, with every constant
     * computed in double and rounded once ((float) (1 - dampening), not 1f - (float) dampening), as the CUDA kernel
     * and PyTorch do.
     */
    static void sgd(float[] p, float[] g, float[] v, double lr, double momentum, double dampening, double weightDecay,
                    boolean nesterov, boolean first) {
        float tLr = (float) lr, tMomentum = (float) momentum, keep = (float) (1 - dampening), wd = (float) weightDecay;
        Parallel.forRange(p.length, Parallel.GRAIN, (lo, hi) -> {
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
        Parallel.forRange(p.length, Parallel.GRAIN, (lo, hi) -> {
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
            Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> apply(code, a, lo, b, lo, out, lo, hi - lo));
            return true;
        }
        if (!Shape.isRowOf(bShape, outShape)) {
            return false;
        }
        int cols = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        int rows = n / cols;
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / cols), (lo, hi) -> {
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
            Parallel.forRange(inner, Math.max(1, Parallel.GRAIN / Math.max(1, n)), (lo, hi) -> {
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
