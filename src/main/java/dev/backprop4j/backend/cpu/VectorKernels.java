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
            case LEAKY_RELU, SIGMOID, TANH, GELU -> true;
            default -> false;
        };
    }

    /**
     * y = f(x) on [lo, hi) for LEAKY_RELU (slope p1), SIGMOID, TANH and GELU, with {@link VectorMath}'s e^x and
     * tanh; returns false for other ops. The last, partial vector is masked, not a scalar loop, so every element goes
     * through the same lane arithmetic wherever a range ends: the bits do not depend on how the work was split over
     * threads, nor on the JIT tier.
     */
    static boolean unary(dev.backprop4j.backend.UnaryOp op, float[] x, float[] y, float p1, int lo, int hi) {
        if (!takes(op)) {
            return false;
        }
        int i = lo;
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
            forward(op, FloatVector.fromArray(S, x, i), p1).intoArray(y, i);
        }
        if (i < hi) {
            VectorMask<Float> m = S.indexInRange(i, hi);
            forward(op, FloatVector.fromArray(S, x, i, m), p1).intoArray(y, i, m);
        }
        return true;
    }

    private static FloatVector forward(dev.backprop4j.backend.UnaryOp op, FloatVector v, float p1) {
        return switch (op) {
            case LEAKY_RELU -> v.mul(p1).blend(v, v.compare(VectorOperators.GT, 0f));
            case SIGMOID -> FloatVector.broadcast(S, 1f).div(VectorMath.exp(v.neg()).add(1f));
            case TANH -> VectorMath.tanh(v);
            default -> VectorMath.tanh(v.mul(v).mul(v).mul(GELU_K).add(v).mul(GELU_C)).add(1f).mul(v).mul(0.5f);
        };
    }

    /**
     * dx = dy f'(x) on [lo, hi) for LEAKY_RELU, SIGMOID and TANH (from y) and GELU; false for other ops. Masked at
     * the end as {@link #unary} is.
     */
    static boolean unaryBackward(dev.backprop4j.backend.UnaryOp op, float[] x, float[] y, float[] dy, float[] dx,
                                 float p1, int lo, int hi) {
        if (!takes(op)) {
            return false;
        }
        int i = lo;
        VectorMask<Float> all = S.maskAll(true);
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
            backward(op, x, y, dy, i, all, p1).intoArray(dx, i);
        }
        if (i < hi) {
            VectorMask<Float> m = S.indexInRange(i, hi);
            backward(op, x, y, dy, i, m, p1).intoArray(dx, i, m);
        }
        return true;
    }

    /** dy f'(x) of the lanes at i under mask m (see {@link #unaryBackward}). */
    private static FloatVector backward(dev.backprop4j.backend.UnaryOp op, float[] x, float[] y, float[] dy, int i,
                                        VectorMask<Float> m, float p1) {
        FloatVector g = FloatVector.fromArray(S, dy, i, m);
        return switch (op) {
            case LEAKY_RELU -> g.mul(p1).blend(g, FloatVector.fromArray(S, x, i, m).compare(VectorOperators.GT, 0f));
            case SIGMOID -> {
                FloatVector v = FloatVector.fromArray(S, y, i, m);
                yield g.mul(v).mul(v.neg().add(1f));
            }
            case TANH -> {
                FloatVector v = FloatVector.fromArray(S, y, i, m);
                yield g.mul(v.mul(v).neg().add(1f));
            }
            default -> {
                // beyond |x| = 10, tanh is exactly +-1 in float and the derivative is 1 or 0: clamping keeps x^3 finite
                FloatVector v = FloatVector.fromArray(S, x, i, m).max(-10f).min(10f);
                FloatVector x2 = v.mul(v);
                FloatVector t = VectorMath.tanh(x2.mul(v).mul(GELU_K).add(v).mul(GELU_C));
                FloatVector du = x2.mul(3 * GELU_K).add(1f).mul(GELU_C);
                yield g.mul(t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(du)));
            }
        };
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
        FloatVector sv = FloatVector.zero(S);
        for (c = 0; c < bound; c += S.length()) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, x, base + c).sub(max));
            e.intoArray(out, base + c);
            sv = sv.add(e);
        }
        double sum = VectorMath.sum(sv);
        for (; c < n; c++) {
            float e = (float) Math.exp(x[base + c] - max);
            out[base + c] = e;
            sum += e;
        }
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
