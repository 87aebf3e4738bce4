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
}
