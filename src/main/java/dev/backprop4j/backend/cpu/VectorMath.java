package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * e^x and tanh x on float vectors from adds, multiplies, compares and integer bit moves only, so that a lane's value
 * is the same in every JIT tier. The Vector API's own {@code EXP} and {@code TANH} are not: the interpreter and C1
 * compute them lane by lane with {@code Math}, C2 with the CPU's vector math library, and their last bits differ, so
 * the same call on the same input changed its result once C2 compiled it. Here every operation is IEEE arithmetic or
 * exact integer work, which the Vector API defines bit for bit at every tier; only the vector width (the CPU's) picks
 * how many lanes run at once, never a lane's value. The polynomials are Cephes' single-precision ones (about 1 ulp),
 * evaluated without fused multiply-adds.
 */
final class VectorMath {
    private VectorMath() {
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** e^x overflows above this and is below the smallest normal float below -EXP_LOW. */
    private static final float EXP_HIGH = 88.72283905206835f;
    private static final float EXP_LOW = -87.33654475055310898657f;
    /** Adding it rounds a float of magnitude below 2^22 to an integer (round half to even), exactly. */
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23

    /** e^x per lane: +inf above 88.72, 0 below -87.34, NaN for NaN. */
    static FloatVector exp(FloatVector x) {
        VectorSpecies<Float> s = x.species();
        FloatVector c = x.max(EXP_LOW).min(EXP_HIGH);
        FloatVector n = c.mul(LOG2E).add(ROUNDER).sub(ROUNDER); // round(x log2 e), an integer held in a float
        FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO));
        FloatVector r2 = r.mul(r);
        FloatVector p = r.mul(1.9875691500e-4f).add(1.3981999507e-3f).mul(r).add(8.3334519073e-3f).mul(r)
                .add(4.1665795894e-2f).mul(r).add(1.6666665459e-1f).mul(r).add(5.0000001201e-1f).mul(r2).add(r)
                .add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector scaled = p.mul(bits.reinterpretAsFloats());
        VectorMask<Float> over = x.compare(VectorOperators.GT, EXP_HIGH);
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LOW);
        return scaled.blend(Float.POSITIVE_INFINITY, over).blend(0f, under)
                .blend(x, x.compare(VectorOperators.NE, x)); // NaN stays NaN
    }

    /** tanh x per lane: an odd polynomial below |x| = 0.625, 1 - 2 / (e^(2|x|) + 1) with the sign above. */
    static FloatVector tanh(FloatVector x) {
        FloatVector a = x.abs();
        FloatVector z = x.mul(x);
        FloatVector small = z.mul(-5.70498872745e-3f).add(2.06390887954e-2f).mul(z).add(-5.37397155531e-2f).mul(z)
                .add(1.33314422036e-1f).mul(z).add(-3.33332819422e-1f).mul(z).mul(x).add(x);
        FloatVector e = exp(a.add(a));
        FloatVector large = FloatVector.broadcast(x.species(), 1f).sub(FloatVector.broadcast(x.species(), 2f)
                .div(e.add(1f)));
        large = large.blend(large.neg(), x.compare(VectorOperators.LT, 0f));
        return large.blend(small, a.compare(VectorOperators.LT, 0.625f)).blend(x, x.compare(VectorOperators.NE, x));
    }

    /** The lanes' sum, added in lane order in double: the same at every tier (reduceLanes(ADD) leaves it open). */
    static double sum(FloatVector v) {
        double s = 0;
        for (int i = 0; i < v.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }
}
