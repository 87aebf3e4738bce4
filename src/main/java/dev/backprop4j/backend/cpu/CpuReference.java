package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.Conversions;
import dev.backprop4j.backend.PendingRead;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.BFloat16;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Shape;

import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * The executable specification of {@link Backend}: every primitive as a plain loop over elements read and written
 * as doubles ({@link CpuBuffer#get}, {@link CpuBuffer#set}), so float32 and float64 go through the same code and
 * float32 results are the exact results rounded. Every other implementation is tested against these loops: the
 * CPU's own fast float32 paths ({@link CpuBackend}, which extends this class and overrides only them) and the
 * CUDA kernels (the conformance checks, {@code backend.conformance}). Large loops use all cores ({@link Parallel}); the formulas of the elementwise
 * functions and their derivatives stand side by side in {@link CpuMath}.
 */
class CpuReference implements Backend {

    /** The reference itself, without the fast paths. */
    static final CpuReference INSTANCE = new CpuReference();

    CpuReference() {
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
    public void write(Buffer dst, short[] bf16) {
        System.arraycopy(bf16, 0, cpu(dst).shorts(), 0, bf16.length);
    }

    @Override
    public float[] readFloats(Buffer src) {
        CpuBuffer s = cpu(src);
        return switch (s.dtype()) {
            case FLOAT32 -> s.floats().clone();
            case FLOAT64 -> Conversions.toFloats(s.doubles());
            case INT32 -> Conversions.toFloats(s.ints());
            case BFLOAT16 -> Conversions.bf16ToFloats(s.shorts());
        };
    }

    @Override
    public double[] readDoubles(Buffer src) {
        CpuBuffer s = cpu(src);
        return switch (s.dtype()) {
            case FLOAT64 -> s.doubles().clone();
            case FLOAT32 -> Conversions.toDoubles(s.floats());
            case INT32 -> Conversions.toDoubles(s.ints());
            case BFLOAT16 -> Conversions.toDoubles(Conversions.bf16ToFloats(s.shorts()));
        };
    }

    @Override
    public int[] readInts(Buffer src) {
        return cpu(src).ints().clone();
    }

    @Override
    public short[] readBf16(Buffer src) {
        return cpu(src).shorts().clone();
    }

    @Override
    public PendingRead readLater(Buffer src) {
        return PendingRead.done(readDoubles(src));
    }

    @Override
    public void fill(Buffer out, double value) {
        CpuBuffer o = cpu(out);
        switch (o.dtype()) {
            case FLOAT32 -> java.util.Arrays.fill(o.floats(), (float) value);
            case FLOAT64 -> java.util.Arrays.fill(o.doubles(), value);
            case INT32 -> java.util.Arrays.fill(o.ints(), (int) value);
            case BFLOAT16 -> java.util.Arrays.fill(o.shorts(), BFloat16.fromFloat((float) value));
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
        ReferenceLayout.broadcast(cpu(x), xShape, cpu(out), outShape);
    }

    @Override
    public void transpose(Buffer x, int batch, int rows, int cols, Buffer out) {
        ReferenceLayout.transpose(cpu(x), batch, rows, cols, cpu(out));
    }

    // ---- elementwise ----------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Buffer x, Buffer out, double p1, double p2) {
        CpuBuffer xs = cpu(x);
        CpuBuffer o = cpu(out);
        DoubleUnaryOperator f = CpuMath.forward(op, p1, p2);
        Parallel.forRange(xs.size(), Parallel.GRAIN, (lo, hi) -> {
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
        CpuMath.LocalGrad f = CpuMath.derivative(op, p1, p2);
        Parallel.forRange(g.size(), Parallel.GRAIN, (lo, hi) -> {
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
        DoubleBinaryOperator f = CpuMath.binary(op);
        if (aShape.equals(outShape) && bShape.equals(outShape)) {
            Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
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
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(1, last)), (lo, hi) -> {
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

    /**
     * C = alpha op(A) op(B) + beta C for each matrix of the batch, element by element in double: each row of C is a
     * sum over p of alpha op(A)[i, p] times row p of op(B), in order of p.
     */
    @Override
    public void gemm(boolean transA, boolean transB, int batch, int m, int n, int k, double alpha, Buffer a,
                     long strideA, Buffer b, long strideB, double beta, Buffer c, long strideC, boolean tf32) {
        boolean round = tf32 && a.dtype() == DType.FLOAT32 && c.dtype() == DType.FLOAT32;
        CpuBuffer as = round ? CpuBuffer.of(Conversions.tf32(cpu(a).floats())) : cpu(a);
        CpuBuffer bs = round ? CpuBuffer.of(Conversions.tf32(cpu(b).floats())) : cpu(b);
        CpuBuffer cs = cpu(c);
        if (cs.dtype() == DType.INT32) {
            throw new IllegalArgumentException("matmul: dtype " + cs.dtype() + " is not supported");
        }
        for (int t = 0; t < batch; t++) {
            int oa = (int) (t * strideA);
            int ob = (int) (t * strideB);
            int oc = (int) (t * strideC);
            Parallel.forRange(m, Math.max(1, 4096 / Math.max(1, n)), (lo, hi) -> {
                double[] row = new double[n];
                for (int i = lo; i < hi; i++) {
                    int ci = oc + i * n;
                    for (int j = 0; j < n; j++) {
                        row[j] = beta == 0 ? 0 : beta * cs.get(ci + j);
                    }
                    for (int p = 0; p < k; p++) {
                        double av = alpha * as.get(oa + (transA ? p * m + i : i * k + p));
                        for (int j = 0; j < n; j++) {
                            row[j] += av * bs.get(ob + (transB ? j * k + p : p * n + j));
                        }
                    }
                    for (int j = 0; j < n; j++) {
                        cs.set(ci + j, row[j]);
                    }
                }
            });
        }
    }

    // ---- reductions, the softmax family, gather and scatter: ReferenceReductions ----------------------

    @Override
    public void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out) {
        ReferenceReductions.reduce(op, x, outer, n, inner, out);
    }

    @Override
    public void argmax(Buffer x, int outer, int n, int inner, Buffer out) {
        ReferenceReductions.argmax(x, outer, n, inner, out);
    }

    @Override
    public void embedding(Buffer table, Buffer idx, int n, int num, int dim, Buffer out) {
        ReferenceReductions.embedding(table, idx, n, num, dim, out);
    }

    @Override
    public void embeddingBackward(Buffer dy, Buffer idx, int n, int num, int dim, Buffer dtable) {
        ReferenceReductions.embeddingBackward(dy, idx, n, num, dim, dtable);
    }

    @Override
    public void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y) {
        ReferenceReductions.softmax(x, outer, n, inner, log, y);
    }

    @Override
    public void softmaxBackward(Buffer y, Buffer dy, int outer, int n, int inner, boolean log, Buffer dx) {
        ReferenceReductions.softmaxBackward(y, dy, outer, n, inner, log, dx);
    }

    @Override
    public void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, double scale, Buffer loss,
                             Buffer probs) {
        ReferenceReductions.crossEntropy(logits, labels, rows, classes, scale, loss, probs);
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, double scale, int rows, int classes,
                                     Buffer dlogits) {
        ReferenceReductions.crossEntropyBackward(probs, labels, dloss, scale, rows, classes, dlogits);
    }

    @Override
    public void accumulateMetrics(Buffer loss, Buffer logits, Buffer labels, int rows, int classes, Buffer metrics) {
        ReferenceReductions.accumulateMetrics(loss, logits, labels, rows, classes, metrics);
    }

    @Override
    public void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out) {
        ReferenceReductions.gatherRows(x, idx, rows, cols, out);
    }

    @Override
    public void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx) {
        ReferenceReductions.scatterRows(dy, idx, rows, cols, dx);
    }

    @Override
    public long countEqual(Buffer a, Buffer b, long n) {
        return ReferenceReductions.countEqual(a, b, n);
    }

    // ---- random -----------------------------------------------------------------------------------

    @Override
    public void random(Buffer out, Distribution dist, double a, double b, long seed, long offset) {
        CpuBuffer o = cpu(out);
        Parallel.forRange(o.size(), Parallel.GRAIN, (lo, hi) -> {
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

    /** The offset from counter[0], which then advances by out's length rounded up to even (as Generator.take). */
    @Override
    public void random(Buffer out, Distribution dist, double a, double b, long seed, Buffer counter) {
        CpuBuffer c = cpu(counter);
        long offset = (long) c.get(0);
        random(out, dist, a, b, seed, offset);
        c.set(0, (double) (offset + out.length() + (out.length() & 1)));
    }

    // ---- fused layer epilogues, normalisation and optimizer updates: ReferenceUpdates, ReferenceNorms -------

    @Override
    public void biasActivation(UnaryOp op, Buffer z, Buffer bias, Buffer residual, int rows, int cols, double p1,
                               double p2, Buffer y) {
        ReferenceUpdates.biasActivation(op, z, bias, residual, rows, cols, p1, p2, y);
    }

    @Override
    public void biasActivationBackward(UnaryOp op, Buffer z, Buffer y, Buffer dy, int rows, int cols, double p1,
                                       double p2, Buffer dz, Buffer dbias) {
        ReferenceUpdates.biasActivationBackward(op, z, y, dy, rows, cols, p1, p2, dz, dbias);
    }

    @Override
    public void layerNorm(Buffer x, Buffer gamma, Buffer beta, int rows, int cols, double eps, Buffer y, Buffer mean,
                          Buffer rstd) {
        ReferenceNorms.layerNorm(x, gamma, beta, rows, cols, eps, y, mean, rstd);
    }

    @Override
    public void layerNormBackward(Buffer x, Buffer mean, Buffer rstd, Buffer gamma, Buffer dy, int rows, int cols,
                                  Buffer dx, Buffer dgamma, Buffer dbeta) {
        ReferenceNorms.layerNormBackward(x, mean, rstd, gamma, dy, rows, cols, dx, dgamma, dbeta);
    }

    @Override
    public void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer lr, Buffer steps, double momentum,
                        double dampening, double weightDecay, boolean nesterov) {
        ReferenceUpdates.sgdStep(params, grads, velocities, lr, steps, momentum, dampening, weightDecay, nesterov);
    }

    @Override
    public void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer lr, Buffer steps,
                         double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        ReferenceUpdates.adamStep(params, grads, m, v, lr, steps, beta1, beta2, eps, weightDecay, decoupled);
    }

    @Override
    public void clipGradNorm(Buffer[] grads, double maxNorm, Buffer norm) {
        ReferenceUpdates.clipGradNorm(grads, maxNorm, norm);
    }

    @Override
    public Graph capture(Runnable body) {
        throw new UnsupportedOperationException("capture: graphs need a CUDA device; the CPU runs every step as it "
                + "comes");
    }

    @Override
    public void synchronize() {
        // CPU work is synchronous.
    }
}
