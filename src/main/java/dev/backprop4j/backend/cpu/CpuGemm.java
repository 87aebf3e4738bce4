package dev.backprop4j.backend.cpu;

/**
 * Row-major GEMM on the CPU: C = alpha op(A) op(B) + beta C, batched by strides (see
 * {@link dev.backprop4j.backend.Backend#gemm}). Float32 goes to the packed Vector API kernel
 * ({@link VectorGemm}) when the {@code jdk.incubator.vector} module is present, else to the scalar loop
 * here, which is also the reference the vector kernel is tested against, and the float64 path.
 */
public final class CpuGemm {

    /** True when the Vector API kernel is in use (module present and not disabled by -Dbackprop4j.vector=false). */
    public static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"false".equals(System.getProperty("backprop4j.vector"));

    private CpuGemm() {
    }

    static void gemm(boolean tA, boolean tB, int batch, int m, int n, int k, double alpha,
                     CpuBuffer a, long sA, CpuBuffer b, long sB, double beta, CpuBuffer c, long sC) {
        for (int i = 0; i < batch; i++) {
            int oa = (int) (i * sA);
            int ob = (int) (i * sB);
            int oc = (int) (i * sC);
            switch (c.dtype()) {
                case FLOAT32 -> {
                    if (VECTOR) {
                        VectorGemm.sgemm(tA, tB, m, n, k, (float) alpha, a.floats(), oa, b.floats(), ob, (float) beta,
                                c.floats(), oc);
                    } else {
                        scale(c.floats(), oc, m * n, (float) beta);
                        sgemmScalar(tA, tB, m, n, k, (float) alpha, a.floats(), oa, b.floats(), ob, c.floats(), oc);
                    }
                }
                case FLOAT64 -> {
                    scale(c.doubles(), oc, m * n, beta);
                    dgemm(tA, tB, m, n, k, alpha, a.doubles(), oa, b.doubles(), ob, c.doubles(), oc);
                }
                default -> throw new IllegalArgumentException("matmul: dtype " + c.dtype() + " is not supported");
            }
        }
    }

    private static void scale(float[] c, int off, int len, float beta) {
        if (beta == 0f) {
            java.util.Arrays.fill(c, off, off + len, 0f);
        } else if (beta != 1f) {
            for (int i = off; i < off + len; i++) {
                c[i] *= beta;
            }
        }
    }

    private static void scale(double[] c, int off, int len, double beta) {
        if (beta == 0) {
            java.util.Arrays.fill(c, off, off + len, 0.0);
        } else if (beta != 1) {
            for (int i = off; i < off + len; i++) {
                c[i] *= beta;
            }
        }
    }

    /** C += alpha op(A) op(B), one row of C at a time as a sum of scaled rows of op(B) (vectorised by C2). */
    static void sgemmScalar(boolean tA, boolean tB, int m, int n, int k, float alpha,
                            float[] a, int oa, float[] b, int ob, float[] c, int oc) {
        float[] bt = tB ? transposeCopy(b, ob, n, k) : null;
        float[] bm = tB ? bt : b;
        int bo = tB ? 0 : ob;
        Parallel.forRange(m, Math.max(1, 4096 / Math.max(1, n)), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int ci = oc + i * n;
                for (int p = 0; p < k; p++) {
                    float av = alpha * (tA ? a[oa + p * m + i] : a[oa + i * k + p]);
                    if (av == 0f) {
                        continue;
                    }
                    int bi = bo + p * n;
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += av * bm[bi + j];
                    }
                }
            }
        });
    }

    private static void dgemm(boolean tA, boolean tB, int m, int n, int k, double alpha,
                              double[] a, int oa, double[] b, int ob, double[] c, int oc) {
        Parallel.forRange(m, Math.max(1, 4096 / Math.max(1, n)), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int ci = oc + i * n;
                for (int p = 0; p < k; p++) {
                    double av = alpha * (tA ? a[oa + p * m + i] : a[oa + i * k + p]);
                    for (int j = 0; j < n; j++) {
                        c[ci + j] += av * (tB ? b[ob + j * k + p] : b[ob + p * n + j]);
                    }
                }
            }
        });
    }

    /** The [k, n] row-major transpose of the [n, k] matrix at b[off]. */
    private static float[] transposeCopy(float[] b, int off, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = b[off + r * cols + c];
            }
        }
        return t;
    }
}
