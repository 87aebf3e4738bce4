package dev.backprop4j.backend;

import dev.backprop4j.core.BFloat16;

/**
 * Host-array conversions behind {@link Backend#readFloats} and {@link Backend#readDoubles} of a buffer of another
 * dtype, one definition for every backend: double to float rounds to nearest, int to float rounds to nearest, to
 * double is exact.
 */
public final class Conversions {

    private Conversions() {
    }

    public static float[] toFloats(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }

    public static float[] toFloats(int[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    public static double[] toDoubles(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    public static double[] toDoubles(int[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }

    /** bfloat16 bit patterns as the floats they are (exact). */
    public static float[] bf16ToFloats(short[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = BFloat16.toFloat(v[i]);
        }
        return out;
    }

    /**
     * {@code f} rounded to TF32 as tensor cores take float32 inputs: the mantissa to 10 bits, to nearest with ties
     * away from zero (PTX cvt.rna.tf32.f32); infinities and NaNs unchanged.
     */
    public static float tf32(float f) {
        int u = Float.floatToRawIntBits(f);
        return (u & 0x7f800000) == 0x7f800000 ? f : Float.intBitsToFloat((u + 0x1000) & 0xffffe000);
    }

    /** {@link #tf32} of every element, in a new array. */
    public static float[] tf32(float[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = tf32(v[i]);
        }
        return out;
    }
}
