package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;

/**
 * The reference loops of the normalisation primitives ({@link Backend#layerNorm}, {@link Backend#layerNormBackward}):
 * every sum in double, in index order, every result rounded once to its buffer's type. Rows run in parallel; the
 * parameter gradients' column sums run over the rows in order.
 */
final class ReferenceNorms {
    private ReferenceNorms() {
    }

    static void layerNorm(Buffer x, Buffer gamma, Buffer beta, int rows, int cols, double eps, Buffer y, Buffer mean,
                          Buffer rstd) {
        CpuBuffer xs = (CpuBuffer) x;
        CpuBuffer ys = (CpuBuffer) y;
        CpuBuffer g = (CpuBuffer) gamma;
        CpuBuffer b = (CpuBuffer) beta;
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(1, cols)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int base = r * cols;
                double sum = 0;
                for (int c = 0; c < cols; c++) {
                    sum += xs.get(base + c);
                }
                double m = sum / cols;
                double squares = 0;
                for (int c = 0; c < cols; c++) {
                    double d = xs.get(base + c) - m;
                    squares += d * d;
                }
                double inv = 1 / Math.sqrt(squares / cols + eps);
                for (int c = 0; c < cols; c++) {
                    double v = (xs.get(base + c) - m) * inv;
                    if (g != null) {
                        v *= g.get(c);
                    }
                    if (b != null) {
                        v += b.get(c);
                    }
                    ys.set(base + c, v);
                }
                ((CpuBuffer) mean).set(r, m);
                ((CpuBuffer) rstd).set(r, inv);
            }
        });
    }

    static void layerNormBackward(Buffer x, Buffer mean, Buffer rstd, Buffer gamma, Buffer dy, int rows, int cols,
                                  Buffer dx, Buffer dgamma, Buffer dbeta) {
        CpuBuffer xs = (CpuBuffer) x;
        CpuBuffer ms = (CpuBuffer) mean;
        CpuBuffer rs = (CpuBuffer) rstd;
        CpuBuffer gs = (CpuBuffer) gamma;
        CpuBuffer dys = (CpuBuffer) dy;
        if (dx != null) {
            CpuBuffer dxs = (CpuBuffer) dx;
            Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(1, cols)), (lo, hi) -> {
                for (int r = lo; r < hi; r++) {
                    int base = r * cols;
                    double m = ms.get(r);
                    double inv = rs.get(r);
                    double sumG = 0;
                    double sumGx = 0;
                    for (int c = 0; c < cols; c++) {
                        double g = dys.get(base + c) * (gs == null ? 1 : gs.get(c));
                        sumG += g;
                        sumGx += g * ((xs.get(base + c) - m) * inv);
                    }
                    double a = sumG / cols;
                    double b = sumGx / cols;
                    for (int c = 0; c < cols; c++) {
                        double g = dys.get(base + c) * (gs == null ? 1 : gs.get(c));
                        double xhat = (xs.get(base + c) - m) * inv;
                        dxs.set(base + c, inv * (g - a - xhat * b));
                    }
                }
            });
        }
        if (dgamma == null && dbeta == null) {
            return;
        }
        Parallel.forRange(cols, Math.max(1, Parallel.GRAIN / Math.max(1, rows)), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int r = 0; r < rows; r++) {
                    int i = r * cols + c;
                    double d = dys.get(i);
                    sumDy += d;
                    sumDyXhat += d * ((xs.get(i) - ms.get(r)) * rs.get(r));
                }
                if (dgamma != null) {
                    ((CpuBuffer) dgamma).set(c, sumDyXhat);
                }
                if (dbeta != null) {
                    ((CpuBuffer) dbeta).set(c, sumDy);
                }
            }
        });
    }
}
