package dev.backprop4j.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The row-major-on-column-major mapping of {@link CudaBlas}: a column-major GEMM with cuBLAS's argument rules,
 * given {@link CudaBlas.ColumnMajor}'s operands, sizes and leading dimensions, yields the row-major product, for every
 * transposition and sizes from 0. Plain Java: no cuBLAS, no GPU.
 */
class CudaBlasMappingTest {

    @Test
    void theColumnMajorCallComputesTheRowMajorProduct() {
        Random rnd = new Random(7);
        int[] sizes = {0, 1, 3, 7};
        for (boolean tA : new boolean[] {false, true}) {
            for (boolean tB : new boolean[] {false, true}) {
                for (int m : sizes) {
                    for (int n : sizes) {
                        for (int k : sizes) {
                            double[] a = random(rnd, m * k);
                            double[] b = random(rnd, k * n);
                            double[] expected = rowMajor(tA, tB, m, n, k, a, b);
                            double[] actual = columnMajor(CudaBlas.ColumnMajor.of(tA, tB, m, n, k), b, a, m * n);
                            assertArrayEquals(expected, actual, 1e-12,
                                    "tA=" + tA + " tB=" + tB + " m=" + m + " n=" + n + " k=" + k);
                        }
                    }
                }
            }
        }
    }

    private static double[] random(Random rnd, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextDouble() * 2 - 1;
        }
        return x;
    }

    /** C = op(A) op(B), row-major, with A stored [k, m] when tA and B stored [n, k] when tB. */
    private static double[] rowMajor(boolean tA, boolean tB, int m, int n, int k, double[] a, double[] b) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
                }
                c[i * n + j] = s;
            }
        }
        return c;
    }

    /** cuBLAS gemm semantics (column-major, op per operand, leading dimensions checked as cuBLAS checks them). */
    private static double[] columnMajor(CudaBlas.ColumnMajor g, double[] x, double[] y, int length) {
        int m = g.m();
        int n = g.n();
        int k = g.k();
        assertTrue(g.ldFirst() >= Math.max(1, g.transFirst() ? k : m), "lda too small: " + g);
        assertTrue(g.ldSecond() >= Math.max(1, g.transSecond() ? n : k), "ldb too small: " + g);
        assertTrue(g.ldc() >= Math.max(1, m), "ldc too small: " + g);
        double[] c = new double[length];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double xv = g.transFirst() ? x[p + i * g.ldFirst()] : x[i + p * g.ldFirst()];
                    double yv = g.transSecond() ? y[j + p * g.ldSecond()] : y[p + j * g.ldSecond()];
                    s += xv * yv;
                }
                c[i + j * g.ldc()] = s;
            }
        }
        return c;
    }
}
