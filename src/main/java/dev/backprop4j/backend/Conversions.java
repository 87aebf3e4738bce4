package dev.backprop4j.backend;

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
}
