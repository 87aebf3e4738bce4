package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * e^x and tanh x over float arrays from adds, multiplies, fused multiply-adds, compares and integer bit moves only,
 * so that an element's value is the same in every JIT tier. The Vector API's own {@code EXP} and {@code TANH} are not: the interpreter and
 * C1 compute them lane by lane with {@code Math}, C2 with the CPU's vector math library, and their last bits differ,
 * so the same call on the same input changed its result once C2 compiled it. Here every operation is IEEE arithmetic
 * (a fused multiply-add is {@code Math.fma}'s single rounding in the interpreter and one FMA instruction in C2) or
 * exact integer work (2^k from the bits of a float rounded by adding 1.5 2^23, not a float-to-int conversion, which
 * Java 17's C2 does not compile to vector code), the same at every tier; only the vector width (the CPU's) picks how
 * many lanes run at once, never an element's value. The polynomials are Cephes' single-precision ones (about 1 ulp),
 * by Horner's rule in fused multiply-adds.
 *
 * <p>Each method is one loop over whole vectors, with the arithmetic written inside it: a vector handed from method
 * to method is boxed (allocated) unless C2 inlines the callee, which it refuses once the callee was compiled on its
 * own. The last, partial vector goes through the same loop on a zero-padded copy of its elements, so it is computed
 * exactly as a whole one (a masked load or store costs several times an unmasked one on Java 17).
 */
final class VectorMath {
    private VectorMath() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** e^x overflows above this and is below the smallest normal float below EXP_LOW. */
    private static final float EXP_HIGH = 88.72283905206835f;
    private static final float EXP_LOW = -87.33654475055310898657f;
    /** Adding it rounds a float of magnitude below 2^22 to an integer (round half to even), exactly. */
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23, bits 0x4B400000
    /** Below this |x|, tanh x is Cephes' odd polynomial; above, (1 - e^(-2|x|)) / (1 + e^(-2|x|)). */
    private static final float TANH_SMALL = 0.625f;
    /** Three vectors of scratch per thread for the last, partial vector of a range. */
    private static final ThreadLocal<float[][]> TAIL = ThreadLocal.withInitial(() -> new float[3][L]);

    /**
     * y[yOff + i] = e^(scale (abs ? |x| : x)[xOff + i] - shift) for i &lt; n (+inf above 88.72, 0 below -87.34, NaN
     * for NaN); returns the sum of the n values: the whole vectors' added lane by lane and then the lanes in order,
     * then the partial vector's elements in order, in double. y may be x.
     */
    static double exp(float[] x, int xOff, float[] y, int yOff, int n, float scale, float shift, boolean abs) {
        int full = n - n % L;
        double sum = expVectors(x, xOff, y, yOff, full, scale, shift, abs);
        if (full < n) {
            float[][] t = TAIL.get();
            java.util.Arrays.fill(t[0], 0f);
            System.arraycopy(x, xOff + full, t[0], 0, n - full);
            expVectors(t[0], 0, t[1], 0, L, scale, shift, abs);
            for (int j = 0; j < n - full; j++) {
                y[yOff + full + j] = t[1][j];
                sum += t[1][j];
            }
        }
        return sum;
    }

    /** {@link #exp} over n elements, n a multiple of the vector length. */
    private static double expVectors(float[] x, int xOff, float[] y, int yOff, int n, float scale, float shift,
                                     boolean abs) {
        FloatVector sum = FloatVector.zero(S);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i);
            if (abs) {
                v = v.abs();
            }
            v = v.mul(scale).sub(shift);
            // clamped by compare and blend (Java's max and min cost several instructions each for NaN and -0);
            // NaN passes through every step below and comes out NaN
            VectorMask<Float> low = v.compare(VectorOperators.LT, EXP_LOW);
            VectorMask<Float> high = v.compare(VectorOperators.GT, EXP_HIGH);
            FloatVector c = v.blend(EXP_LOW, low).blend(EXP_HIGH, high);
            FloatVector rounded = c.lanewise(VectorOperators.FMA, LOG2E, ROUNDER);
            FloatVector k = rounded.sub(ROUNDER); // round(c log2 e), an integer held in a float
            FloatVector r = k.lanewise(VectorOperators.FMA, -LN2_HI, c); // c - k ln 2 in two steps
            r = k.lanewise(VectorOperators.FMA, -LN2_LO, r);
            FloatVector p = r.lanewise(VectorOperators.FMA, 1.9875691500e-4f, 1.3981999507e-3f)
                    .lanewise(VectorOperators.FMA, r, 8.3334519073e-3f)
                    .lanewise(VectorOperators.FMA, r, 4.1665795894e-2f)
                    .lanewise(VectorOperators.FMA, r, 1.6666665459e-1f)
                    .lanewise(VectorOperators.FMA, r, 5.0000001201e-1f)
                    .fma(r.mul(r), r).add(1f);
            // 2^k as 2^(k >> 1) 2^(k - (k >> 1)): both halves are normal floats for k in [-126, 128], where 2^k
            // itself is not at 128 (e^88.5 is finite), and only the second multiply rounds
            IntVector ki = ((IntVector) rounded.reinterpretAsInts()).sub(0x4B400000);
            IntVector k1 = ki.lanewise(VectorOperators.ASHR, 1);
            FloatVector e = p.mul(k1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .mul(ki.sub(k1).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .blend(0f, low).blend(Float.POSITIVE_INFINITY, high);
            e.intoArray(y, yOff + i);
            sum = sum.add(e);
        }
        double s = 0;
        for (int lane = 0; lane < L; lane++) {
            s += sum.lane(lane);
        }
        return s;
    }

    /**
     * out[outOff + i] = tanh u[uOff + i] for i &lt; n, given t[tOff + i] = e^(-2|u|) (from {@link #exp}): Cephes'
     * odd polynomial below |u| = 0.625, sign(u) (1 - t) / (1 + t) above (no cancellation, no overflow), NaN for
     * NaN. out may be u or t.
     */
    static void tanhFrom(float[] u, int uOff, float[] t, int tOff, float[] out, int outOff, int n) {
        int full = n - n % L;
        tanhVectors(u, uOff, t, tOff, out, outOff, full);
        if (full < n) {
            float[][] s = TAIL.get();
            java.util.Arrays.fill(s[0], 0f);
            java.util.Arrays.fill(s[1], 1f);
            System.arraycopy(u, uOff + full, s[0], 0, n - full);
            System.arraycopy(t, tOff + full, s[1], 0, n - full);
            tanhVectors(s[0], 0, s[1], 0, s[2], 0, L);
            System.arraycopy(s[2], 0, out, outOff + full, n - full);
        }
    }

    /** {@link #tanhFrom} over n elements, n a multiple of the vector length. */
    private static void tanhVectors(float[] u, int uOff, float[] t, int tOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(S, u, uOff + i);
            FloatVector e = FloatVector.fromArray(S, t, tOff + i);
            FloatVector z = x.mul(x);
            FloatVector small = z.lanewise(VectorOperators.FMA, -5.70498872745e-3f, 2.06390887954e-2f)
                    .lanewise(VectorOperators.FMA, z, -5.37397155531e-2f)
                    .lanewise(VectorOperators.FMA, z, 1.33314422036e-1f)
                    .lanewise(VectorOperators.FMA, z, -3.33332819422e-1f)
                    .mul(z).fma(x, x);
            FloatVector large = e.neg().add(1f).div(e.add(1f)); // NaN for NaN, through e
            large.blend(large.neg(), x.compare(VectorOperators.LT, 0f))
                    .blend(small, x.abs().compare(VectorOperators.LT, TANH_SMALL))
                    .intoArray(out, outOff + i);
        }
    }
}
