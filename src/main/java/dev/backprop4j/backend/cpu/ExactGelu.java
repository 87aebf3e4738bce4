package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 fast path of the exact GELU ({@code UnaryOp.GELU_ERF}), y = x Phi(x) and dx = dy (Phi(x) + x phi(x)),
 * with Phi from erfc: for z = |x| / sqrt 2, erfc z = t e^(-z^2 + P(t)), t = 1 / (1 + z/2), P the degree-9 Chebyshev
 * fit of Numerical Recipes' {@code erfcc} (relative error below 1.2e-7 for every z, so the tails keep their
 * precision), and Phi(x) = 1 - erfc(z)/2 for x &gt;= 0, erfc(z)/2 below. The exponentials are {@link VectorMath}'s,
 * the rest adds, multiplies and fused multiply-adds, so every element gets the same bits in every JIT tier and
 * whatever the split; whole vectors first, then a scalar tail in the lanes' order, in chunks that stay in the
 * cache (see {@link VectorKernels}).
 */
final class ExactGelu {
    private ExactGelu() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int CHUNK = 2048;
    private static final ThreadLocal<float[]> T = ThreadLocal.withInitial(() -> new float[CHUNK]);
    private static final float SQRT1_2 = 0.70710678118654752f;
    private static final float INV_SQRT_2PI = 0.39894228040143268f;
    private static final float[] P = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
        -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f};

    /** y = x Phi(x) on [lo, hi) (y is not x: x is read after y is written). */
    static void forward(float[] x, float[] y, int lo, int hi) {
        float[] t = T.get();
        for (int c = lo; c < hi; c += CHUNK) {
            int n = Math.min(CHUNK, hi - c);
            erfcArgument(x, c, t, y, n);
            VectorMath.exp(y, c, y, c, n, 1f, 0f, false);
            phi(x, c, t, y, n); // t becomes Phi(x)
            int i = 0;
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                FloatVector.fromArray(S, x, c + i).mul(FloatVector.fromArray(S, t, i)).intoArray(y, c + i);
            }
            for (; i < n; i++) {
                y[c + i] = x[c + i] * t[i];
            }
        }
    }

    /** dx = dy (Phi(x) + x e^(-x^2/2) / sqrt(2 pi)) on [lo, hi) (dx is neither x nor dy). */
    static void backward(float[] x, float[] dy, float[] dx, int lo, int hi) {
        float[] t = T.get();
        for (int c = lo; c < hi; c += CHUNK) {
            int n = Math.min(CHUNK, hi - c);
            erfcArgument(x, c, t, dx, n);
            VectorMath.exp(dx, c, dx, c, n, 1f, 0f, false);
            phi(x, c, t, dx, n);
            int i = 0;
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                FloatVector v = FloatVector.fromArray(S, x, c + i);
                v.mul(v).mul(-0.5f).intoArray(dx, c + i);
            }
            for (; i < n; i++) {
                dx[c + i] = x[c + i] * x[c + i] * -0.5f;
            }
            VectorMath.exp(dx, c, dx, c, n, 1f, 0f, false);
            i = 0;
            for (int bound = S.loopBound(n); i < bound; i += S.length()) {
                FloatVector density = FloatVector.fromArray(S, x, c + i).mul(FloatVector.fromArray(S, dx, c + i))
                        .mul(INV_SQRT_2PI);
                FloatVector.fromArray(S, dy, c + i).mul(density.add(FloatVector.fromArray(S, t, i)))
                        .intoArray(dx, c + i);
            }
            for (; i < n; i++) {
                float density = x[c + i] * dx[c + i] * INV_SQRT_2PI;
                dx[c + i] = dy[c + i] * (density + t[i]);
            }
        }
    }

    /** t[j] = 1 / (1 + z/2) and arg[c + j] = P(t) - z^2, z = |x| / sqrt 2, for j &lt; n. */
    private static void erfcArgument(float[] x, int c, float[] t, float[] arg, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector z = FloatVector.fromArray(S, x, c + i).abs().mul(SQRT1_2);
            FloatVector u = FloatVector.broadcast(S, 1f).div(z.mul(0.5f).add(1f));
            FloatVector p = FloatVector.broadcast(S, P[0]);
            for (int k = 1; k < P.length; k++) {
                p = p.lanewise(VectorOperators.FMA, u, P[k]);
            }
            u.intoArray(t, i);
            z.neg().lanewise(VectorOperators.FMA, z, p).intoArray(arg, c + i);
        }
        for (; i < n; i++) {
            float z = Math.abs(x[c + i]) * SQRT1_2;
            float u = 1f / (z * 0.5f + 1f);
            float p = P[0];
            for (int k = 1; k < P.length; k++) {
                p = Math.fma(p, u, P[k]);
            }
            t[i] = u;
            arg[c + i] = Math.fma(-z, z, p);
        }
    }

    /** t[j] = Phi(x[c + j]) from t[j] = 1 / (1 + z/2) and e[c + j] = e^(P(t) - z^2). */
    private static void phi(float[] x, int c, float[] t, float[] e, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector half = FloatVector.fromArray(S, t, i).mul(FloatVector.fromArray(S, e, c + i)).mul(0.5f);
            FloatVector upper = FloatVector.broadcast(S, 1f).sub(half);
            half.blend(upper, FloatVector.fromArray(S, x, c + i).compare(VectorOperators.GE, 0f)).intoArray(t, i);
        }
        for (; i < n; i++) {
            float half = t[i] * e[c + i] * 0.5f;
            t[i] = x[c + i] >= 0f ? 1f - half : half;
        }
    }
}
