package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.ReduceOp;

import static dev.backprop4j.backend.cpu.Parallel.GRAIN;

/**
 * The reference loops of the reductions, the softmax family, gather and scatter: part of the executable
 * specification ({@link CpuReference}, which delegates here), kept apart to keep each file readable. Values are
 * read and written as doubles, so float32 and float64 share every loop.
 */
final class ReferenceReductions {

    private ReferenceReductions() {
    }

    private static CpuBuffer cpu(Buffer b) {
        return (CpuBuffer) b;
    }

    static void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out) {
        CpuBuffer xs = cpu(x);
        CpuBuffer o = cpu(out);
        Parallel.forRange(outer, Math.max(1, GRAIN / Math.max(1, n * inner)), (lo, hi) -> {
            double[] acc = new double[inner];
            for (int ou = lo; ou < hi; ou++) {
                int base = ou * n * inner;
                java.util.Arrays.fill(acc, op == ReduceOp.SUM ? 0.0 : Double.NEGATIVE_INFINITY);
                for (int j = 0; j < n; j++) {
                    int row = base + j * inner;
                    for (int i = 0; i < inner; i++) {
                        double v = xs.get(row + i);
                        acc[i] = op == ReduceOp.SUM ? acc[i] + v : (v > acc[i] || Double.isNaN(v) ? v : acc[i]);
                    }
                }
                for (int i = 0; i < inner; i++) {
                    o.set(ou * inner + i, acc[i]);
                }
            }
        });
    }

    static void argmax(Buffer x, int outer, int n, int inner, Buffer out) {
        CpuBuffer xs = cpu(x);
        int[] o = cpu(out).ints();
        for (int ou = 0; ou < outer; ou++) {
            for (int i = 0; i < inner; i++) {
                int base = ou * n * inner + i;
                int best = 0;
                double bv = xs.get(base);
                for (int j = 1; j < n; j++) {
                    double v = xs.get(base + j * inner);
                    if (v > bv) {
                        bv = v;
                        best = j;
                    }
                }
                o[ou * inner + i] = best;
            }
        }
    }

    static void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y) {
        CpuBuffer xs = cpu(x);
        CpuBuffer ys = cpu(y);
        Parallel.forRange(outer, Math.max(1, GRAIN / Math.max(1, n * inner)), (lo, hi) -> {
            for (int ou = lo; ou < hi; ou++) {
                for (int i = 0; i < inner; i++) {
                    int base = ou * n * inner + i;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < n; j++) {
                        max = Math.max(max, xs.get(base + j * inner));
                    }
                    double sum = 0;
                    for (int j = 0; j < n; j++) {
                        sum += Math.exp(xs.get(base + j * inner) - max);
                    }
                    double logSum = Math.log(sum);
                    for (int j = 0; j < n; j++) {
                        double z = xs.get(base + j * inner) - max;
                        ys.set(base + j * inner, log ? z - logSum : Math.exp(z) / sum);
                    }
                }
            }
        });
    }

    static void softmaxBackward(Buffer y, Buffer dy, int outer, int n, int inner, boolean log, Buffer dx) {
        CpuBuffer ys = cpu(y);
        CpuBuffer g = cpu(dy);
        CpuBuffer d = cpu(dx);
        for (int ou = 0; ou < outer; ou++) {
            for (int i = 0; i < inner; i++) {
                int base = ou * n * inner + i;
                double dot = 0;
                for (int j = 0; j < n; j++) {
                    int p = base + j * inner;
                    dot += log ? g.get(p) : g.get(p) * ys.get(p);
                }
                for (int j = 0; j < n; j++) {
                    int p = base + j * inner;
                    d.set(p, log ? g.get(p) - Math.exp(ys.get(p)) * dot : ys.get(p) * (g.get(p) - dot));
                }
            }
        }
    }

    static void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, double scale, Buffer loss,
                             Buffer probs) {
        CpuBuffer x = cpu(logits);
        int[] lab = cpu(labels).ints();
        CpuBuffer l = cpu(loss);
        CpuBuffer p = cpu(probs);
        checkLabels(lab, rows, classes);
        for (int r = 0; r < rows; r++) {
            int label = lab[r];
            int base = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, x.get(base + c));
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double e = Math.exp(x.get(base + c) - max);
                p.set(base + c, e);
                sum += e;
            }
            for (int c = 0; c < classes; c++) {
                p.set(base + c, p.get(base + c) / sum);
            }
            l.set(r, scale * (Math.log(sum) + max - x.get(base + label)));
        }
    }

    static void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, double scale, int rows, int classes,
                                     Buffer dlogits) {
        CpuBuffer p = cpu(probs);
        int[] lab = cpu(labels).ints();
        CpuBuffer g = cpu(dloss);
        CpuBuffer d = cpu(dlogits);
        boolean shared = g.size() == 1;
        for (int r = 0; r < rows; r++) {
            double gr = scale * g.get(shared ? 0 : r);
            int base = r * classes;
            for (int c = 0; c < classes; c++) {
                d.set(base + c, gr * (p.get(base + c) - (c == lab[r] ? 1.0 : 0.0)));
            }
        }
    }

    /**
     * metrics += {loss[0] rows, the rows whose first largest logit (argmax's rule) is the label (none without labels:
     * a regression batch), rows}.
     */
    static void accumulateMetrics(Buffer loss, Buffer logits, Buffer labels, int rows, int classes, Buffer metrics) {
        CpuBuffer x = cpu(logits);
        int[] lab = labels == null ? null : cpu(labels).ints();
        double[] m = cpu(metrics).doubles();
        long correct = 0;
        for (int r = 0; lab != null && r < rows; r++) {
            int best = 0;
            double bv = classes > 0 ? x.get(r * classes) : 0;
            for (int j = 1; j < classes; j++) {
                double v = x.get(r * classes + j);
                if (v > bv) {
                    bv = v;
                    best = j;
                }
            }
            correct += best == lab[r] ? 1 : 0;
        }
        m[0] += cpu(loss).get(0) * rows;
        m[1] += correct;
        m[2] += rows;
    }

    static void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out) {
        CpuBuffer xs = cpu(x);
        int[] ix = cpu(idx).ints();
        CpuBuffer o = cpu(out);
        for (int r = 0; r < rows; r++) {
            checkIndex("gather", r, ix[r], cols);
            o.set(r, xs.get(r * cols + ix[r]));
        }
    }

    static void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx) {
        CpuBuffer g = cpu(dy);
        int[] ix = cpu(idx).ints();
        CpuBuffer d = cpu(dx);
        for (int r = 0; r < rows; r++) {
            checkIndex("scatter", r, ix[r], cols);
            int p = r * cols + ix[r];
            d.set(p, d.get(p) + g.get(r));
        }
    }

    static void embedding(Buffer table, Buffer idx, int n, int num, int dim, Buffer out) {
        CpuBuffer t = cpu(table);
        int[] ix = cpu(idx).ints();
        CpuBuffer o = cpu(out);
        for (int i = 0; i < n; i++) {
            checkIndex("embedding", i, ix[i], num);
            for (int d = 0; d < dim; d++) {
                o.set(i * dim + d, t.get(ix[i] * dim + d));
            }
        }
    }

    static void embeddingBackward(Buffer dy, Buffer idx, int n, int num, int dim, Buffer dtable) {
        CpuBuffer g = cpu(dy);
        int[] ix = cpu(idx).ints();
        CpuBuffer d = cpu(dtable);
        for (int k = 0; k < num * dim; k++) {
            d.set(k, 0);
        }
        for (int i = 0; i < n; i++) {
            if (ix[i] >= 0 && ix[i] < num) {
                for (int c = 0; c < dim; c++) {
                    int p = ix[i] * dim + c;
                    d.set(p, d.get(p) + g.get(i * dim + c)); // rounded to dtable's type at every add, as a GPU adds
                }
            }
        }
    }

    /** Fails naming the first label outside [0, classes), as every backend's cross-entropy does. */
    static void checkLabels(int[] labels, int rows, int classes) {
        for (int r = 0; r < rows; r++) {
            if (labels[r] < 0 || labels[r] >= classes) {
                throw new IllegalArgumentException("cross_entropy: label " + labels[r] + " in row " + r
                        + " is outside [0, " + classes + ")");
            }
        }
    }

    private static void checkIndex(String op, int row, int index, int cols) {
        if (index < 0 || index >= cols) {
            throw new IllegalArgumentException(op + ": index " + index + " in row " + row
                    + " is outside [0, " + cols + ")");
        }
    }

    static long countEqual(Buffer a, Buffer b, long n) {
        int[] x = cpu(a).ints();
        int[] y = cpu(b).ints();
        long count = 0;
        for (int i = 0; i < n; i++) {
            if (x[i] == y[i]) {
                count++;
            }
        }
        return count;
    }
}
