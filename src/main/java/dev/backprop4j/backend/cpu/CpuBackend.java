package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Shape;

import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * The pure-Java backend, and the executable specification of {@link Backend}: every loop here is the
 * definition other backends are tested against. Large elementwise work and GEMM use all cores
 * ({@link Parallel}); GEMM is packed and cache-blocked ({@link CpuGemm}).
 */
public final class CpuBackend implements Backend {

    public static final CpuBackend INSTANCE = new CpuBackend();

    /** Elementwise loops shorter than this run on one thread. */
    static final int GRAIN = 1 << 17;

    private CpuBackend() {
    }

    private static CpuBuffer cpu(Buffer b) {
        return (CpuBuffer) b;
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Buffer allocate(DType dtype, long length) {
        return CpuBuffer.allocateReusing(dtype, length);
    }

    @Override
    public void write(Buffer dst, float[] src) {
        System.arraycopy(src, 0, cpu(dst).floats(), 0, src.length);
    }

    @Override
    public void write(Buffer dst, double[] src) {
        System.arraycopy(src, 0, cpu(dst).doubles(), 0, src.length);
    }

    @Override
    public void write(Buffer dst, int[] src) {
        System.arraycopy(src, 0, cpu(dst).ints(), 0, src.length);
    }

    @Override
    public float[] readFloats(Buffer src) {
        CpuBuffer s = cpu(src);
        if (s.dtype() == DType.FLOAT32) {
            return s.floats().clone();
        }
        float[] out = new float[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) s.get(i);
        }
        return out;
    }

    @Override
    public double[] readDoubles(Buffer src) {
        CpuBuffer s = cpu(src);
        double[] out = new double[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i);
        }
        return out;
    }

    @Override
    public int[] readInts(Buffer src) {
        return cpu(src).ints().clone();
    }

    @Override
    public void fill(Buffer out, double value) {
        CpuBuffer o = cpu(out);
        switch (o.dtype()) {
            case FLOAT32 -> java.util.Arrays.fill(o.floats(), (float) value);
            case FLOAT64 -> java.util.Arrays.fill(o.doubles(), value);
            case INT32 -> java.util.Arrays.fill(o.ints(), (int) value);
        }
    }

    @Override
    public void copy(Buffer src, long srcOffset, Buffer dst, long dstOffset, long n) {
        Object s = cpu(src).array();
        Object d = cpu(dst).array();
        System.arraycopy(s, (int) srcOffset, d, (int) dstOffset, (int) n);
    }

    @Override
    public void cast(Buffer src, Buffer dst) {
        CpuBuffer s = cpu(src);
        CpuBuffer d = cpu(dst);
        for (int i = 0, n = s.size(); i < n; i++) {
            d.set(i, s.get(i));
        }
    }

    @Override
    public void narrow(Buffer src, int outer, int srcDim, int inner, int srcStart,
                       Buffer dst, int dstDim, int dstStart, int len) {
        Object s = cpu(src).array();
        Object d = cpu(dst).array();
        int block = len * inner;
        for (int o = 0; o < outer; o++) {
            System.arraycopy(s, (o * srcDim + srcStart) * inner, d, (o * dstDim + dstStart) * inner, block);
        }
    }

    @Override
    public void broadcast(Buffer x, Shape xShape, Buffer out, Shape outShape) {
        CpuBuffer s = cpu(x);
        CpuBuffer d = cpu(out);
        BroadcastIndex ix = new BroadcastIndex(xShape, outShape);
        int last = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        int rows = last == 0 ? 0 : outShape.intSize() / last;
        long stride = ix.lastStride();
        for (int r = 0; r < rows; r++) {
            int from = (int) ix.rowOffset(r);
            for (int j = 0; j < last; j++) {
                d.set(r * last + j, s.get(from + (int) (j * stride)));
            }
        }
    }

    @Override
    public void transpose(Buffer x, int batch, int rows, int cols, Buffer out) {
        CpuBuffer s = cpu(x);
        CpuBuffer d = cpu(out);
        int plane = rows * cols;
        final int tile = 32;
        for (int b = 0; b < batch; b++) {
            int base = b * plane;
            for (int i0 = 0; i0 < rows; i0 += tile) {
                for (int j0 = 0; j0 < cols; j0 += tile) {
                    for (int i = i0; i < Math.min(rows, i0 + tile); i++) {
                        for (int j = j0; j < Math.min(cols, j0 + tile); j++) {
                            d.set(base + j * rows + i, s.get(base + i * cols + j));
                        }
                    }
                }
            }
        }
    }

    // ---- elementwise ----------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Buffer x, Buffer out, double p1, double p2) {
        CpuBuffer xs = cpu(x);
        CpuBuffer o = cpu(out);
        if (xs.dtype() == DType.FLOAT32 && op == UnaryOp.RELU) {
            FloatKernels.relu(xs.floats(), o.floats());
            return;
        }
        if (xs.dtype() == DType.FLOAT32 && CpuGemm.VECTOR && FloatKernels.vectorUnary(op)) {
            float[] xf = xs.floats();
            float[] of = o.floats();
            Parallel.forRange(xf.length, GRAIN, (lo, hi) -> VectorKernels.unary(op, xf, of, (float) p1, lo, hi));
            return;
        }
        DoubleUnaryOperator f = CpuMath.forward(op, p1, p2);
        Parallel.forRange(xs.size(), GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                o.set(i, f.applyAsDouble(xs.get(i)));
            }
        });
    }

    @Override
    public void unaryBackward(UnaryOp op, Buffer x, Buffer y, Buffer dy, Buffer dx, double p1, double p2) {
        CpuBuffer xs = x == null ? null : cpu(x);
        CpuBuffer ys = y == null ? null : cpu(y);
        CpuBuffer g = cpu(dy);
        CpuBuffer d = cpu(dx);
        if (g.dtype() == DType.FLOAT32 && op == UnaryOp.RELU) {
            FloatKernels.reluBackward(xs.floats(), g.floats(), d.floats());
            return;
        }
        if (g.dtype() == DType.FLOAT32 && CpuGemm.VECTOR && FloatKernels.vectorUnary(op)) {
            float[] xf = xs == null ? null : xs.floats();
            float[] yf = ys == null ? null : ys.floats();
            float[] gf = g.floats();
            float[] df = d.floats();
            Parallel.forRange(gf.length, GRAIN, (lo, hi) ->
                    VectorKernels.unaryBackward(op, xf, yf, gf, df, (float) p1, lo, hi));
            return;
        }
        CpuMath.LocalGrad f = CpuMath.derivative(op, p1, p2);
        Parallel.forRange(g.size(), GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                d.set(i, f.apply(xs == null ? 0 : xs.get(i), ys == null ? 0 : ys.get(i), g.get(i)));
            }
        });
    }

    @Override
    public void binary(BinaryOp op, Buffer a, Shape aShape, Buffer b, Shape bShape, Buffer out, Shape outShape) {
        CpuBuffer as = cpu(a);
        CpuBuffer bs = cpu(b);
        CpuBuffer o = cpu(out);
        int n = outShape.intSize();
        if (as.dtype() == DType.FLOAT32 && FloatKernels.binary(op, as.floats(), aShape, bs.floats(), bShape,
                o.floats(), outShape)) {
            return;
        }
        DoubleBinaryOperator f = CpuMath.binary(op);
        if (aShape.equals(outShape) && bShape.equals(outShape)) {
            Parallel.forRange(n, GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    o.set(i, f.applyAsDouble(as.get(i), bs.get(i)));
                }
            });
            return;
        }
        BroadcastIndex ia = new BroadcastIndex(aShape, outShape);
        BroadcastIndex ib = new BroadcastIndex(bShape, outShape);
        int last = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        int rows = last == 0 ? 0 : n / last;
        long sa = ia.lastStride();
        long sb = ib.lastStride();
        Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, last)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int pa = (int) ia.rowOffset(r);
                int pb = (int) ib.rowOffset(r);
                int po = r * last;
                for (int j = 0; j < last; j++) {
                    o.set(po + j, f.applyAsDouble(as.get(pa + (int) (j * sa)), bs.get(pb + (int) (j * sb))));
                }
            }
        });
    }

    // ---- gemm -----------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, int batch, int m, int n, int k,
                     double alpha, Buffer a, long strideA, Buffer b, long strideB, double beta, Buffer c, long strideC) {
        CpuGemm.gemm(transA, transB, batch, m, n, k, alpha, cpu(a), strideA, cpu(b), strideB, beta, cpu(c), strideC);
    }

    // ---- reductions -----------------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out) {
        CpuBuffer xs = cpu(x);
        CpuBuffer o = cpu(out);
        if (op == ReduceOp.SUM && xs.dtype() == DType.FLOAT32 && inner > 1) {
            FloatKernels.sumColumns(xs.floats(), outer, n, inner, o.floats());
            return;
        }
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

    @Override
    public void argmax(Buffer x, int outer, int n, int inner, Buffer out) {
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

    @Override
    public void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y) {
        CpuBuffer xs = cpu(x);
        CpuBuffer ys = cpu(y);
        if (xs.dtype() == DType.FLOAT32 && inner == 1 && CpuGemm.VECTOR) {
            float[] xf = xs.floats();
            float[] yf = ys.floats();
            Parallel.forRange(outer, Math.max(1, GRAIN / Math.max(1, n)),
                    (lo, hi) -> VectorKernels.softmaxRows(xf, n, log, yf, lo, hi));
            return;
        }
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

    @Override
    public void softmaxBackward(Buffer y, Buffer dy, int outer, int n, int inner, boolean log, Buffer dx) {
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

    @Override
    public void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, Buffer loss, Buffer probs) {
        CpuBuffer x = cpu(logits);
        int[] lab = cpu(labels).ints();
        CpuBuffer l = cpu(loss);
        CpuBuffer p = cpu(probs);
        for (int r = 0; r < rows; r++) {
            if (lab[r] < 0 || lab[r] >= classes) {
                throw new IllegalArgumentException("cross_entropy: label " + lab[r] + " in row " + r
                        + " is outside [0, " + classes + ")");
            }
        }
        if (x.dtype() == DType.FLOAT32 && CpuGemm.VECTOR) {
            float[] xf = x.floats();
            float[] lf = l.floats();
            float[] pf = p.floats();
            Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, classes)),
                    (lo, hi) -> VectorKernels.crossEntropy(xf, lab, classes, lf, pf, lo, hi));
            return;
        }
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
            l.set(r, Math.log(sum) + max - x.get(base + label));
        }
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, int rows, int classes, Buffer dlogits) {
        CpuBuffer p = cpu(probs);
        int[] lab = cpu(labels).ints();
        CpuBuffer g = cpu(dloss);
        CpuBuffer d = cpu(dlogits);
        if (p.dtype() == DType.FLOAT32 && CpuGemm.VECTOR) {
            float[] pf = p.floats();
            float[] gf = g.floats();
            float[] df = d.floats();
            Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(1, classes)),
                    (lo, hi) -> VectorKernels.crossEntropyBackward(pf, lab, gf, classes, df, lo, hi));
            return;
        }
        for (int r = 0; r < rows; r++) {
            double gr = g.get(r);
            int base = r * classes;
            for (int c = 0; c < classes; c++) {
                d.set(base + c, gr * (p.get(base + c) - (c == lab[r] ? 1.0 : 0.0)));
            }
        }
    }

    @Override
    public void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out) {
        CpuBuffer xs = cpu(x);
        int[] ix = cpu(idx).ints();
        CpuBuffer o = cpu(out);
        for (int r = 0; r < rows; r++) {
            checkIndex("gather", r, ix[r], cols);
            o.set(r, xs.get(r * cols + ix[r]));
        }
    }

    @Override
    public void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx) {
        CpuBuffer g = cpu(dy);
        int[] ix = cpu(idx).ints();
        CpuBuffer d = cpu(dx);
        for (int r = 0; r < rows; r++) {
            checkIndex("scatter", r, ix[r], cols);
            int p = r * cols + ix[r];
            d.set(p, d.get(p) + g.get(r));
        }
    }

    private static void checkIndex(String op, int row, int index, int cols) {
        if (index < 0 || index >= cols) {
            throw new IllegalArgumentException(op + ": index " + index + " in row " + row
                    + " is outside [0, " + cols + ")");
        }
    }

    @Override
    public long countEqual(Buffer a, Buffer b, long n) {
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

    // ---- random -----------------------------------------------------------------------------------

    @Override
    public void random(Buffer out, Distribution dist, double a, double b, long seed, long offset) {
        CpuBuffer o = cpu(out);
        Parallel.forRange(o.size(), GRAIN, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                long c = offset + i;
                double v = switch (dist) {
                    case UNIFORM -> a + (b - a) * CpuMath.uniform(seed, c);
                    case NORMAL -> a + b * CpuMath.normal(seed, c);
                    case BERNOULLI -> CpuMath.uniform(seed, c) < a ? 1.0 : 0.0;
                };
                o.set(i, v);
            }
        });
    }

    // ---- optimizers -------------------------------------------------------------------------------

    @Override
    public void sgdStep(Buffer param, Buffer grad, Buffer velocity, double lr, double momentum, double dampening,
                        double weightDecay, boolean nesterov, boolean firstStep) {
        CpuBuffer p = cpu(param);
        CpuBuffer g = cpu(grad);
        CpuBuffer v = velocity == null ? null : cpu(velocity);
        if (p.dtype() == DType.FLOAT32) {
            FloatKernels.sgd(p.floats(), g.floats(), v == null ? null : v.floats(), lr, momentum, dampening, weightDecay,
                    nesterov, firstStep);
            return;
        }
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

    @Override
    public void adamStep(Buffer param, Buffer grad, Buffer m, Buffer v, double lr, double beta1, double beta2,
                         double eps, double weightDecay, boolean decoupled, long step) {
        CpuBuffer p = cpu(param);
        CpuBuffer g = cpu(grad);
        CpuBuffer ms = cpu(m);
        CpuBuffer vs = cpu(v);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        if (p.dtype() == DType.FLOAT32) {
            FloatKernels.adam(p.floats(), g.floats(), ms.floats(), vs.floats(), lr, beta1, beta2, eps, weightDecay,
                    decoupled, bc1, bc2);
            return;
        }
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

    @Override
    public void synchronize() {
        // CPU work is synchronous.
    }
}
