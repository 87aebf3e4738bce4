package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops for the elementwise work C2 does not vectorise by itself (selects on a comparison).
 * Each has a scalar tail; only loaded when the jdk.incubator.vector module is present ({@link CpuGemm#VECTOR}).
 */
final class VectorKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorKernels() {
    }

    /** y = max(x, 0) on [lo, hi). */
    static void relu(float[] x, float[] y, int lo, int hi) {
        int i = lo;
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, i).max(0f).intoArray(y, i);
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
}
