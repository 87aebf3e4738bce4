package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops for the elementwise work C2 does not vectorise by itself (selects on a comparison).
 * Each has a scalar tail; only loaded when the jdk.incubator.vector module is present ({@link CpuBackend#VECTOR_API}).
 */
final class VectorKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorKernels() {
    }

    /** y = x > 0 ? x : 0 on [lo, hi) (NaN gives 0, as the reference and the CUDA kernel do). */
    static void relu(float[] x, float[] y, int lo, int hi) {
        int i = lo;
        FloatVector zero = FloatVector.zero(S);
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            zero.blend(v, v.compare(VectorOperators.GT, 0f)).intoArray(y, i);
        }
        for (; i < hi; i++) {
            y[i] = x[i] > 0 ? x[i] : 0f;
        }
    }

    /** dx = x > 0 ? dy : 0 on [lo, hi). */
    static void reluBackward(float[] x, float[] dy, float[] dx, int lo, int hi) {
        int i = lo;
        FloatVector zero = FloatVector.zero(S);
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
            VectorMask<Float> positive = FloatVector.fromArray(S, x, i).compare(VectorOperators.GT, 0f);
            zero.blend(FloatVector.fromArray(S, dy, i), positive).intoArray(dx, i);
        }
        for (; i < hi; i++) {
            dx[i] = x[i] > 0 ? dy[i] : 0f;
        }
    }

    private static final float GELU_C = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_K = 0.044715f;

    /** Whether {@link #unary} and {@link #unaryBackward} take this op (ReLU has {@link #relu} of its own). */
    static boolean takes(dev.backprop4j.backend.UnaryOp op) {
        return switch (op) {
            case LEAKY_RELU, SIGMOID, TANH, GELU, GELU_ERF -> true;
            default -> false;
        };
    }

    /** Elements per pass of the chunked kernels: the chunk and its scratch stay in the L1 cache. */
    private static final int CHUNK = 2048;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[CHUNK]);

    /**
     * y = f(x) on [lo, hi) for LEAKY_RELU (slope p1), SIGMOID, TANH and GELU, with {@link VectorMath}'s e^x and
     * tanh; returns false for other ops. The transcendental ones run in chunks of {@link #CHUNK} elements, a few
     * passes over each while it sits in the cache. Every loop runs whole vectors, then the last few elements in
     * scalar float arithmetic written in the same order as the lanes' (IEEE adds, multiplies, divides and compares
     * round the same either way; e^x and tanh go through VectorMath, which pads the tail), so an element's bits depend
     * neither on where a range ends, nor on how the work was split over threads, nor on the JIT tier. No loop hands
     * a vector to a method (see VectorMath).
     */
    static boolean unary(dev.backprop4j.backend.UnaryOp op, float[] x, float[] y, float p1, int lo, int hi) {
        switch (op) {
            case LEAKY_RELU -> {
                int i = lo;
                for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
                    FloatVector v = FloatVector.fromArray(S, x, i);
                    v.mul(p1).blend(v, v.compare(VectorOperators.GT, 0f)).intoArray(y, i);
                }
                for (; i < hi; i++) {
                    y[i] = x[i] > 0f ? x[i] : x[i] * p1;
                }
            }
            case SIGMOID -> {
                for (int c = lo; c < hi; c += CHUNK) {
                    int n = Math.min(CHUNK, hi - c);
                    VectorMath.exp(x, c, y, c, n, -1f, 0f, false);
                    int i = c;
                    for (int bound = c + S.loopBound(n); i < bound; i += S.length()) {
                        FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, y, i).add(1f)).intoArray(y, i);
                    }
                    for (; i < c + n; i++) {
                        y[i] = 1f / (y[i] + 1f);
                    }
                }
            }
            case TANH -> {
                float[] t = SCRATCH.get();
                for (int c = lo; c < hi; c += CHUNK) {
                    int n = Math.min(CHUNK, hi - c);
                    VectorMath.exp(x, c, t, 0, n, -2f, 0f, true);
                    VectorMath.tanhFrom(x, c, t, 0, y, c, n);
                }
            }
            case GELU_ERF -> ExactGelu.forward(x, y, lo, hi);
            case GELU -> { // x s, s = 1 / (1 + e^(-2u)) = (1 + tanh u) / 2, from E = e^(-2|u|): no cancellation
                float[] t = SCRATCH.get();
                for (int c = lo; c < hi; c += CHUNK) {
                    int n = Math.min(CHUNK, hi - c);
                    geluInner(x, c, y, c, n, false);
                    VectorMath.exp(y, c, t, 0, n, -2f, 0f, true);
                    int i = 0;
                    for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                        FloatVector e = FloatVector.fromArray(S, t, i);
                        FloatVector onePlus = e.add(1f);
                        FloatVector sv = e.div(onePlus).blend(FloatVector.broadcast(S, 1f).div(onePlus),
                                FloatVector.fromArray(S, y, c + i).compare(VectorOperators.GE, 0f));
                        FloatVector.fromArray(S, x, c + i).mul(sv).intoArray(y, c + i);
                    }
                    for (; i < n; i++) {
                        float onePlus = t[i] + 1f;
                        float sv = y[c + i] >= 0f ? 1f / onePlus : t[i] / onePlus;
                        y[c + i] = x[c + i] * sv;
                    }
                }
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /**
     * u = sqrt(2/pi) (x + 0.044715 x^3) of n elements, from x clamped to [-10, 10] when {@code clamped} (beyond it
     * tanh is exactly +-1 in float, and clamping keeps x^3 finite for the backward).
     */
    private static void geluInner(float[] x, int xOff, float[] u, int uOff, int n, boolean clamped) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            if (clamped) {
                v = v.blend(-10f, v.compare(VectorOperators.LT, -10f))
                        .blend(10f, v.compare(VectorOperators.GT, 10f));
            }
            v.mul(v).mul(v).mul(GELU_K).add(v).mul(GELU_C).intoArray(u, uOff + i);
        }
        for (; i < n; i++) {
            float v = clamped ? clamp10(x[xOff + i]) : x[xOff + i];
            u[uOff + i] = (v * v * v * GELU_K + v) * GELU_C;
        }
    }

    /** x limited to [-10, 10] as the vector loops limit it (by compare and blend: NaN stays NaN). */
    private static float clamp10(float x) {
        return x < -10f ? -10f : x > 10f ? 10f : x;
    }

    /**
     * dx = dy f'(x) on [lo, hi) for LEAKY_RELU, SIGMOID and TANH (from y) and GELU; false for other ops. Whole
     * vectors, a scalar tail in the same order, and chunks, as {@link #unary}.
     */
    static boolean unaryBackward(dev.backprop4j.backend.UnaryOp op, float[] x, float[] y, float[] dy, float[] dx,
                                 float p1, int lo, int hi) {
        int bound = lo + S.loopBound(hi - lo);
        switch (op) {
            case LEAKY_RELU -> {
                int i = lo;
                for (; i < bound; i += S.length()) {
                    FloatVector g = FloatVector.fromArray(S, dy, i);
                    g.mul(p1).blend(g, FloatVector.fromArray(S, x, i).compare(VectorOperators.GT, 0f))
                            .intoArray(dx, i);
                }
                for (; i < hi; i++) {
                    dx[i] = x[i] > 0f ? dy[i] : dy[i] * p1;
                }
            }
            case SIGMOID -> {
                int i = lo;
                for (; i < bound; i += S.length()) {
                    FloatVector v = FloatVector.fromArray(S, y, i);
                    FloatVector.fromArray(S, dy, i).mul(v).mul(v.neg().add(1f)).intoArray(dx, i);
                }
                for (; i < hi; i++) {
                    dx[i] = dy[i] * y[i] * (1f - y[i]);
                }
            }
            case TANH -> {
                int i = lo;
                for (; i < bound; i += S.length()) {
                    FloatVector v = FloatVector.fromArray(S, y, i);
                    FloatVector.fromArray(S, dy, i).mul(v.mul(v).neg().add(1f)).intoArray(dx, i);
                }
                for (; i < hi; i++) {
                    dx[i] = dy[i] * (1f - y[i] * y[i]);
                }
            }
            case GELU_ERF -> ExactGelu.backward(x, dy, dx, lo, hi);
            case GELU -> { // dy (s + 2 x u' E / (1 + E)^2), s and E as in the forward, u' = c (1 + 3k x^2)
                float[] t = SCRATCH.get();
                for (int c = lo; c < hi; c += CHUNK) {
                    int n = Math.min(CHUNK, hi - c);
                    geluInner(x, c, dx, c, n, true);
                    VectorMath.exp(dx, c, t, 0, n, -2f, 0f, true);
                    int i = 0;
                    for (int whole = S.loopBound(n); i < whole; i += S.length()) {
                        FloatVector v = FloatVector.fromArray(S, x, c + i);
                        v = v.blend(-10f, v.compare(VectorOperators.LT, -10f))
                                .blend(10f, v.compare(VectorOperators.GT, 10f));
                        FloatVector e = FloatVector.fromArray(S, t, i);
                        FloatVector onePlus = e.add(1f);
                        FloatVector sv = e.div(onePlus).blend(FloatVector.broadcast(S, 1f).div(onePlus),
                                FloatVector.fromArray(S, dx, c + i).compare(VectorOperators.GE, 0f));
                        FloatVector du = v.mul(v).mul(3 * GELU_K).add(1f).mul(GELU_C);
                        FloatVector local = sv.add(v.mul(2f).mul(du).mul(e).div(onePlus.mul(onePlus)));
                        FloatVector.fromArray(S, dy, c + i).mul(local).intoArray(dx, c + i);
                    }
                    for (; i < n; i++) {
                        float v = clamp10(x[c + i]);
                        float e = t[i];
                        float onePlus = e + 1f;
                        float sv = dx[c + i] >= 0f ? 1f / onePlus : e / onePlus;
                        float du = (v * v * (3 * GELU_K) + 1f) * GELU_C;
                        float local = sv + v * 2f * du * e / (onePlus * onePlus);
                        dx[c + i] = dy[c + i] * local;
                    }
                }
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** Max-shifted e^(x - max) of row [base, base + n) into out; returns {max, sum of the exponentials}. */
    private static float[] expShifted(float[] x, int base, int n, float[] out) {
        int bound = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int c = 0;
        for (; c < bound; c += S.length()) {
            mv = mv.max(FloatVector.fromArray(S, x, base + c));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; c < n; c++) {
            max = Math.max(max, x[base + c]);
        }
        double sum = VectorMath.exp(x, base, out, base, n, 1f, max, false);
        return new float[]{max, (float) sum};
    }

    /** Softmax cross-entropy of rows [lo, hi) (labels already checked): loss[r] and probs (see Backend#crossEntropy). */
    static void crossEntropy(float[] x, int[] labels, int classes, double lossScale, float[] loss, float[] probs,
                             int lo, int hi) {
        for (int r = lo; r < hi; r++) {
            int base = r * classes;
            float[] ms = expShifted(x, base, classes, probs);
            scale(probs, base, classes, 1f / ms[1]);
            loss[r] = (float) (lossScale * (Math.log(ms[1]) + ms[0] - x[base + labels[r]]));
        }
    }

    /**
     * dlogits[r] = s dloss[r] (probs[r] - onehot(label[r])) for rows [lo, hi); dloss has one element per row, or one
     * for all rows.
     */
    static void crossEntropyBackward(float[] probs, int[] labels, float[] dloss, double s, int classes, float[] d,
                                     int lo, int hi) {
        boolean shared = dloss.length == 1;
        for (int r = lo; r < hi; r++) {
            int base = r * classes;
            int c = 0;
            float g = (float) (s * dloss[shared ? 0 : r]);
            for (int bound = S.loopBound(classes); c < bound; c += S.length()) {
                FloatVector.fromArray(S, probs, base + c).mul(g).intoArray(d, base + c);
            }
            for (; c < classes; c++) {
                d[base + c] = probs[base + c] * g;
            }
            d[base + labels[r]] -= g;
        }
    }

    /** Softmax (or log-softmax) over the last axis for rows [lo, hi) of [rows, n]. */
    static void softmaxRows(float[] x, int n, boolean log, float[] y, int lo, int hi) {
        for (int r = lo; r < hi; r++) {
            int base = r * n;
            float[] ms = expShifted(x, base, n, y);
            if (!log) {
                scale(y, base, n, 1f / ms[1]);
                continue;
            }
            // (x - max) - log(sum): subtracting max first keeps the precision a rounded max + log(sum) would lose
            float max = ms[0];
            float logSum = (float) Math.log(ms[1]);
            int c = 0;
            for (int bound = S.loopBound(n); c < bound; c += S.length()) {
                FloatVector.fromArray(S, x, base + c).sub(max).sub(logSum).intoArray(y, base + c);
            }
            for (; c < n; c++) {
                y[base + c] = (x[base + c] - max) - logSum;
            }
        }
    }

    private static void scale(float[] a, int base, int n, float s) {
        int c = 0;
        for (int bound = S.loopBound(n); c < bound; c += S.length()) {
            FloatVector.fromArray(S, a, base + c).mul(s).intoArray(a, base + c);
        }
        for (; c < n; c++) {
            a[base + c] *= s;
        }
    }
}
