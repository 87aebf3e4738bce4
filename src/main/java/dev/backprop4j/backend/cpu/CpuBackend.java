package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.Conversions;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.BFloat16;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;

/**
 * The CPU backend, the default: the executable specification ({@link CpuReference}), which it extends, with fast
 * float32 paths for the work of a training step, the only methods it overrides. Each override is the one place that
 * decides which runs: the fast path when the dtype is float32 and the shapes fit it (and, for the Vector API
 * kernels, when the {@code jdk.incubator.vector} module is present: {@link #VECTOR_API}), the reference's loop
 * ({@code super}) otherwise. Every fast path computes what the reference computes, up to float32 rounding;
 * the conformance checks ({@code backend.conformance}) hold them to it.
 * <ul>
 *   <li>GEMM: {@link VectorGemm} (packed, cache-blocked, all cores), or C2-vectorised float loops without the Vector
 *       API ({@link FloatKernels#sgemm});</li>
 *   <li>ReLU, leaky ReLU, sigmoid, tanh, GELU forward and backward, softmax rows and the fused cross-entropy:
 *       {@link VectorKernels};</li>
 *   <li>same-shape and bias-row arithmetic, column sums (bias gradients), SGD and Adam: {@link FloatKernels}.</li>
 * </ul>
 */
public final class CpuBackend extends CpuReference {

    public static final CpuBackend INSTANCE = new CpuBackend();

    /** True when the Vector API kernels are in use (module present and not disabled by -Dbackprop4j.vector=false). */
    static final boolean VECTOR_API = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"false".equals(System.getProperty("backprop4j.vector"));

    private CpuBackend() {
    }

    private static final java.util.concurrent.atomic.AtomicBoolean NOTICED = new java.util.concurrent.atomic.AtomicBoolean();

    /** Says once, on standard error, that the Vector API is off and what it costs. */
    private static void noticeScalarFallback() {
        if (!NOTICED.getAndSet(true) && !"false".equals(System.getProperty("backprop4j.vector"))) {
            System.err.println("backprop4j: the Vector API (module jdk.incubator.vector) is not enabled, so float32 "
                    + "matrix products and activations on the CPU use the scalar fallback, several times slower; start "
                    + "Java with --add-modules jdk.incubator.vector");
        }
    }

    /** The executable specification alone, without the fast paths: what every backend is checked against. */
    public static Backend reference() {
        return CpuReference.INSTANCE;
    }

    /** Whether the fast float32 matrix multiply of the Vector API is in use (false: the slower scalar one). */
    public static boolean vectorApi() {
        return VECTOR_API;
    }

    private static CpuBuffer cpu(Buffer b) {
        return (CpuBuffer) b;
    }

    private static boolean float32(Buffer b) {
        return b.dtype() == DType.FLOAT32;
    }

    // ---- the primitives with float32 fast paths ---------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Buffer x, Buffer out, double p1, double p2) {
        if (float32(x) && (op == UnaryOp.RELU || VECTOR_API && VectorKernels.takes(op))) {
            float[] xf = cpu(x).floats();
            float[] of = cpu(out).floats();
            Parallel.forRange(xf.length, Parallel.GRAIN, (lo, hi) -> {
                if (op != UnaryOp.RELU) {
                    VectorKernels.unary(op, xf, of, (float) p1, lo, hi);
                } else if (VECTOR_API) {
                    VectorKernels.relu(xf, of, lo, hi);
                } else {
                    FloatKernels.relu(xf, of, lo, hi);
                }
            });
            return;
        }
        super.unary(op, x, out, p1, p2);
    }

    @Override
    public void unaryBackward(UnaryOp op, Buffer x, Buffer y, Buffer dy, Buffer dx, double p1, double p2) {
        if (float32(dy) && (op == UnaryOp.RELU || VECTOR_API && VectorKernels.takes(op))) {
            float[] xf = x == null ? null : cpu(x).floats();
            float[] yf = y == null ? null : cpu(y).floats();
            float[] gf = cpu(dy).floats();
            float[] df = cpu(dx).floats();
            Parallel.forRange(gf.length, Parallel.GRAIN, (lo, hi) -> {
                if (op != UnaryOp.RELU) {
                    VectorKernels.unaryBackward(op, xf, yf, gf, df, (float) p1, lo, hi);
                } else if (VECTOR_API) {
                    VectorKernels.reluBackward(xf, gf, df, lo, hi);
                } else {
                    FloatKernels.reluBackward(xf, gf, df, lo, hi);
                }
            });
            return;
        }
        super.unaryBackward(op, x, y, dy, dx, p1, p2);
    }

    @Override
    public void binary(BinaryOp op, Buffer a, Shape aShape, Buffer b, Shape bShape, Buffer out, Shape outShape) {
        if (float32(a) && FloatKernels.binary(op, cpu(a).floats(), aShape, cpu(b).floats(), bShape, cpu(out).floats(),
                outShape)) {
            return;
        }
        super.binary(op, a, aShape, b, bShape, out, outShape);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int batch, int m, int n, int k, double alpha, Buffer a,
                     long strideA, Buffer b, long strideB, double beta, Buffer c, long strideC, boolean tf32) {
        if (!float32(c)) {
            super.gemm(transA, transB, batch, m, n, k, alpha, a, strideA, b, strideB, beta, c, strideC, tf32);
            return;
        }
        // bfloat16 inputs (mixed precision) as the floats they are: products and sums in float32, as tensor cores
        float[] af = a.dtype() == DType.BFLOAT16 ? Conversions.bf16ToFloats(cpu(a).shorts()) : cpu(a).floats();
        float[] bf = b.dtype() == DType.BFLOAT16 ? Conversions.bf16ToFloats(cpu(b).shorts()) : cpu(b).floats();
        float[] cf = cpu(c).floats();
        if (tf32 && a.dtype() == DType.FLOAT32) { // rounded copies, as TF32 tensor cores take float32 inputs
            af = Conversions.tf32(af);
            bf = Conversions.tf32(bf);
        }
        for (int t = 0; t < batch; t++) {
            int oa = (int) (t * strideA);
            int ob = (int) (t * strideB);
            int oc = (int) (t * strideC);
            if (VECTOR_API) {
                VectorGemm.sgemm(transA, transB, m, n, k, (float) alpha, af, oa, bf, ob, (float) beta, cf, oc);
            } else {
                noticeScalarFallback();
                FloatKernels.sgemm(transA, transB, m, n, k, (float) alpha, af, oa, bf, ob, (float) beta, cf, oc);
            }
        }
    }

    @Override
    public void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out) {
        if (op == ReduceOp.SUM && float32(x) && inner > 1) {
            FloatKernels.sumColumns(cpu(x).floats(), outer, n, inner, cpu(out).floats());
            return;
        }
        super.reduce(op, x, outer, n, inner, out);
    }

    @Override
    public void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y) {
        if (float32(x) && inner == 1 && VECTOR_API) {
            float[] xf = cpu(x).floats();
            float[] yf = cpu(y).floats();
            Parallel.forRange(outer, Math.max(1, Parallel.GRAIN / Math.max(1, n)),
                    (lo, hi) -> VectorKernels.softmaxRows(xf, n, log, yf, lo, hi));
            return;
        }
        super.softmax(x, outer, n, inner, log, y);
    }

    @Override
    public void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, double scale, Buffer loss,
                             Buffer probs) {
        if (float32(logits) && VECTOR_API) {
            int[] lab = cpu(labels).ints();
            ReferenceReductions.checkLabels(lab, rows, classes);
            float[] xf = cpu(logits).floats();
            float[] lf = cpu(loss).floats();
            float[] pf = cpu(probs).floats();
            Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(1, classes)),
                    (lo, hi) -> VectorKernels.crossEntropy(xf, lab, classes, scale, lf, pf, lo, hi));
            return;
        }
        super.crossEntropy(logits, labels, rows, classes, scale, loss, probs);
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, double scale, int rows, int classes,
                                     Buffer dlogits) {
        if (float32(probs) && VECTOR_API) {
            float[] pf = cpu(probs).floats();
            int[] lab = cpu(labels).ints();
            float[] gf = cpu(dloss).floats();
            float[] df = cpu(dlogits).floats();
            Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(1, classes)),
                    (lo, hi) -> VectorKernels.crossEntropyBackward(pf, lab, gf, scale, classes, df, lo, hi));
            return;
        }
        super.crossEntropyBackward(probs, labels, dloss, scale, rows, classes, dlogits);
    }

    /** Float32 to bfloat16 and back (autocast's casts) over the arrays, in parallel; other casts as the reference. */
    @Override
    public void cast(Buffer src, Buffer dst) {
        if (src.dtype() == DType.FLOAT32 && dst.dtype() == DType.BFLOAT16) {
            float[] s = cpu(src).floats();
            short[] d = cpu(dst).shorts();
            Parallel.forRange(s.length, Parallel.GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    d[i] = BFloat16.fromFloat(s[i]);
                }
            });
        } else if (src.dtype() == DType.BFLOAT16 && dst.dtype() == DType.FLOAT32) {
            short[] s = cpu(src).shorts();
            float[] d = cpu(dst).floats();
            Parallel.forRange(s.length, Parallel.GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    d[i] = BFloat16.toFloat(s[i]);
                }
            });
        } else {
            super.cast(src, dst);
        }
    }

    /**
     * Float32: the bias add and the activation through their own fast paths (two passes, each vectorised); a
     * bfloat16 y gets the float32 result rounded once (autocast's activations), as the CUDA kernel writes it.
     */
    @Override
    public void biasActivation(UnaryOp op, Buffer z, Buffer bias, Buffer residual, int rows, int cols, double p1,
                               double p2, Buffer y) {
        if (float32(z) && y.dtype() == DType.BFLOAT16) {
            Buffer y32 = allocate(DType.FLOAT32, (long) rows * cols);
            try {
                biasActivation(op, z, bias, residual, rows, cols, p1, p2, y32);
                cast(y32, y);
            } finally {
                y32.release();
            }
            return;
        }
        if (!float32(z) || residual != null && op != null) {
            super.biasActivation(op, z, bias, residual, rows, cols, p1, p2, y);
            return;
        }
        Shape shape = Shape.of(rows, cols);
        if (bias != null) {
            binary(BinaryOp.ADD, z, shape, bias, Shape.of(cols), z, shape);
        }
        if (residual != null) {
            binary(BinaryOp.ADD, z, shape, residual, shape, y, shape);
        } else if (op != null) {
            unary(op, z, y, p1, p2);
        } else if (y != z) {
            copy(z, 0, y, 0, (long) rows * cols);
        }
    }

    /**
     * Float32: the activation's backward, then the column sums, through their own fast paths (a bfloat16 y read as
     * float).
     */
    @Override
    public void biasActivationBackward(UnaryOp op, Buffer z, Buffer y, Buffer dy, int rows, int cols, double p1,
                                       double p2, Buffer dz, Buffer dbias) {
        if (y != null && y.dtype() == DType.BFLOAT16 && float32(dy)) {
            Buffer y32 = allocate(DType.FLOAT32, (long) rows * cols);
            try {
                cast(y, y32);
                biasActivationBackward(op, z, y32, dy, rows, cols, p1, p2, dz, dbias);
            } finally {
                y32.release();
            }
            return;
        }
        if (!float32(dy)) {
            super.biasActivationBackward(op, z, y, dy, rows, cols, p1, p2, dz, dbias);
            return;
        }
        Buffer grad = dy;
        if (op != null) {
            // RELU's derivative reads x > 0, and y > 0 exactly there
            unaryBackward(op, z != null ? z : op == UnaryOp.RELU ? y : null, y, dy, dz, p1, p2);
            grad = dz;
        } else if (dz != null && dz != dy) {
            copy(dy, 0, dz, 0, (long) rows * cols);
        }
        if (dbias != null) {
            reduce(ReduceOp.SUM, grad, 1, rows, cols, dbias);
        }
    }

    @Override
    public void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer lr, Buffer steps, double momentum,
                        double dampening, double weightDecay, boolean nesterov) {
        if (params.length == 0 || !float32(params[0])) {
            super.sgdStep(params, grads, velocities, lr, steps, momentum, dampening, weightDecay, nesterov);
            return;
        }
        double rate = cpu(lr).doubles()[0];
        for (int t = 0; t < params.length; t++) {
            if (grads[t] != null) {
                long step = ReferenceUpdates.countStep(steps, t);
                FloatKernels.sgd(cpu(params[t]).floats(), cpu(grads[t]).floats(),
                        velocities == null || velocities[t] == null ? null : cpu(velocities[t]).floats(), rate,
                        momentum, dampening, weightDecay, nesterov, step == 1);
            }
        }
    }

    @Override
    public void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer lr, Buffer steps,
                         double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        if (params.length == 0 || !float32(params[0])) {
            super.adamStep(params, grads, m, v, lr, steps, beta1, beta2, eps, weightDecay, decoupled);
            return;
        }
        double rate = cpu(lr).doubles()[0];
        for (int t = 0; t < params.length; t++) {
            if (grads[t] != null) {
                long step = ReferenceUpdates.countStep(steps, t);
                FloatKernels.adam(cpu(params[t]).floats(), cpu(grads[t]).floats(), cpu(m[t]).floats(),
                        cpu(v[t]).floats(), rate, beta1, beta2, eps, weightDecay, decoupled, 1 - Math.pow(beta1, step),
                        1 - Math.pow(beta2, step));
            }
        }
    }
}
