package dev.backprop4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float32 GEMM on the Vector API, in the GotoBLAS/BLIS shape: op(B) is packed into panels NR columns
 * wide (kc x NR each, contiguous), op(A) into panels MR rows tall, and an MR x NR micro-kernel keeps its
 * 12 accumulators in vector registers for a whole kc-long run of fused multiply-adds. Blocks: KC deep
 * (the B panel stays in L1/L2), rows split over the cores. Tails are zero-padded in the packs and
 * stored through a scratch tile. Only loaded when the jdk.incubator.vector module is present.
 *
 * <p>Computes C = alpha op(A) op(B) + beta C on row-major data; each core scales its own rows of C first.
 */
final class VectorGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    static final int MR = 6;
    static final int NR = 2 * VL;
    private static final int KC = 256;
    private static final int NC = 4096 / NR * NR;
    private static final int MC_MAX = 144;
    private static final long PARALLEL_MACS = 1L << 20;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][]);

    private VectorGemm() {
    }

    static void sgemm(boolean tA, boolean tB, int m, int n, int k, float alpha,
                      float[] a, int oa, float[] b, int ob, float beta, float[] c, int oc) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            scaleRows(c, oc, n, 0, m, beta);
            return;
        }
        // Below PARALLEL_MACS multiply-adds, waking a second core costs more than it saves.
        int threads = (long) m * n * k >= PARALLEL_MACS ? Parallel.THREADS : 1;
        // Row blocks of at most MC_MAX rows, as many as a multiple of the thread count, and all of nearly the same
        // number of MR-row panels, so every core gets the same work.
        int panelsM = (m + MR - 1) / MR;
        int mBlocks = Math.min(panelsM, roundUp((m + MC_MAX - 1) / MC_MAX, threads));
        // k blocks of nearly equal depth (784 = 4 x 196, not 3 x 256 + 16: a shallow last block spends its time
        // loading and storing C)
        int kBlocks = (k + KC - 1) / KC;
        int kc0 = (k + kBlocks - 1) / kBlocks;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int ncPadded = roundUp(nc, NR);
            int fjc = jc;
            // op(B)[:, jc:jc+nc] packed once for all of k (block pc at offset pc * ncPadded), the cores sharing the work
            float[] bp = bScratch(ncPadded * k);
            int panels = ncPadded / NR;
            Parallel.forRange(kBlocks * panels, 1, threads, (lo, hi) -> {
                for (int t = lo; t < hi; t++) {
                    int pc = (t / panels) * kc0;
                    int q = t % panels;
                    packB(tB, b, ob, n, k, pc, Math.min(kc0, k - pc), fjc, nc, bp, pc * ncPadded, q, q + 1);
                }
            });
            // then each core runs its row blocks through every k block: one fork/join per GEMM, not per block
            Parallel.forRange(mBlocks, 1, threads, (lo, hi) -> {
                for (int blk = lo; blk < hi; blk++) {
                    int ic = Math.min(m, (int) ((long) panelsM * blk / mBlocks) * MR);
                    int mcc = Math.min(m, (int) ((long) panelsM * (blk + 1) / mBlocks) * MR) - ic;
                    if (fjc == 0) {
                        scaleRows(c, oc, n, ic, ic + mcc, beta);   // C = beta C for these rows, on this core
                    }
                    for (int pc = 0; pc < k; pc += kc0) {
                        int kc = Math.min(kc0, k - pc);
                        float[] ap = packA(tA, a, oa, m, k, ic, mcc, pc, kc, scratch(roundUp(mcc, MR) * kc));
                        macroKernel(ap, bp, pc * ncPadded, mcc, nc, kc, alpha, c, oc + ic * n + fjc, n);
                    }
                }
            });
        }
    }

    /** C[rows from..to) = beta C (beta 0 clears, so C's old contents never matter). */
    private static void scaleRows(float[] c, int oc, int n, int from, int to, float beta) {
        if (beta == 0f) {
            java.util.Arrays.fill(c, oc + from * n, oc + to * n, 0f);
        } else if (beta != 1f) {
            for (int i = oc + from * n; i < oc + to * n; i++) {
                c[i] *= beta;
            }
        }
    }

    /** This thread's A-panel scratch, grown as needed. */
    private static float[] scratch(int size) {
        float[][] s = SCRATCH.get();
        if (s[0] == null || s[0].length < size) {
            s[0] = new float[size];
        }
        return s[0];
    }

    /** The calling thread's packed-B buffer (read by every core during one GEMM), grown as needed. */
    private static float[] bScratch(int size) {
        float[][] s = SCRATCH.get();
        if (s[1] == null || s[1].length < size) {
            s[1] = new float[size];
        }
        return s[1];
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    /** Packs panels [qFrom, qTo) of op(B)[pc:pc+kc, jc:jc+nc] at bp[at] as [nc/NR][kc][NR], zero-padded to whole panels. */
    private static void packB(boolean tB, float[] b, int ob, int n, int k, int pc, int kc, int jc, int nc, float[] bp,
                              int at, int qFrom, int qTo) {
        for (int q = qFrom; q < qTo; q++) {
            int j0 = jc + q * NR;
            int width = Math.min(NR, jc + nc - j0);
            int base = at + q * kc * NR;
            if (tB) {
                packBTransposed(b, ob + j0 * k + pc, k, kc, width, bp, base);
            } else {
                packBRows(b, ob + pc * n + j0, n, kc, width, bp, base);
            }
        }
    }

    /**
     * One panel from row-major op(B): each of its kc rows is NR consecutive floats of a stored row, moved as two
     * vectors (a System.arraycopy call per 32 floats costs more than the copy).
     */
    private static void packBRows(float[] b, int src, int ld, int kc, int width, float[] bp, int base) {
        if (width == NR) {
            for (int p = 0; p < kc; p++) {
                int from = src + p * ld;
                int dst = base + p * NR;
                FloatVector.fromArray(S, b, from).intoArray(bp, dst);
                FloatVector.fromArray(S, b, from + VL).intoArray(bp, dst + VL);
            }
            return;
        }
        for (int p = 0; p < kc; p++) {
            int dst = base + p * NR;
            System.arraycopy(b, src + p * ld, bp, dst, width);
            java.util.Arrays.fill(bp, dst + width, dst + NR, 0f);
        }
    }

    /**
     * One panel of op(B) = B^T, B stored [n, k]: panel row p holds B[j0 + j, pc + p] for j < NR. Done in blocks of
     * 16 values of p: the block's sources (one cache line of each of NR rows) and destination (16 x NR floats) both
     * stay in L1. Walking one source row through all kc steps instead strides the stores across the whole panel.
     */
    private static void packBTransposed(float[] b, int src, int ld, int kc, int width, float[] bp, int base) {
        for (int p0 = 0; p0 < kc; p0 += 16) {
            int pEnd = Math.min(kc, p0 + 16);
            for (int j = 0; j < NR; j++) {
                if (j < width) {
                    int row = src + j * ld;
                    for (int p = p0; p < pEnd; p++) {
                        bp[base + p * NR + j] = b[row + p];
                    }
                } else {
                    for (int p = p0; p < pEnd; p++) {
                        bp[base + p * NR + j] = 0f;
                    }
                }
            }
        }
    }

    /** Packs op(A)[ic:ic+mc, pc:pc+kc] as panels [mc/MR][kc][MR], zero-padded to whole panels. */
    private static float[] packA(boolean tA, float[] a, int oa, int m, int k, int ic, int mc, int pc, int kc, float[] ap) {
        int panels = (mc + MR - 1) / MR;
        for (int r = 0; r < panels; r++) {
            int i0 = ic + r * MR;
            int height = Math.min(MR, ic + mc - i0);
            int base = r * kc * MR;
            if (tA) {
                // op(A)[i, p] = A[p, i]: the MR values of one p are adjacent in the stored row p
                for (int p = 0; p < kc; p++) {
                    int src = oa + (pc + p) * m + i0;
                    int dst = base + p * MR;
                    for (int ii = 0; ii < MR; ii++) {
                        ap[dst + ii] = ii < height ? a[src + ii] : 0f;
                    }
                }
                continue;
            }
            for (int ii = 0; ii < MR; ii++) {
                if (ii >= height) {
                    for (int p = 0; p < kc; p++) {
                        ap[base + p * MR + ii] = 0f;
                    }
                } else {
                    // op(A)[i, p] = A[i, p]: read the stored row once, contiguously
                    int src = oa + (i0 + ii) * k + pc;
                    for (int p = 0; p < kc; p++) {
                        ap[base + p * MR + ii] = a[src + p];
                    }
                }
            }
        }
        return ap;
    }

    private static void macroKernel(float[] ap, float[] bp, int bAt, int mc, int nc, int kc, float alpha,
                                    float[] c, int oc, int ldc) {
        float[] tile = new float[MR * NR];
        for (int q = 0; q * NR < nc; q++) {
            int width = Math.min(NR, nc - q * NR);
            for (int r = 0; r * MR < mc; r++) {
                int height = Math.min(MR, mc - r * MR);
                if (height == MR && width == NR) {
                    microKernel(ap, r * kc * MR, bp, bAt + q * kc * NR, kc, alpha, c, oc + r * MR * ldc + q * NR, ldc);
                } else {
                    edgeTile(ap, r * kc * MR, bp, bAt + q * kc * NR, kc, alpha, c, oc + r * MR * ldc + q * NR, ldc,
                            height, width, tile);
                }
            }
        }
    }

    /**
     * The MR x NR micro-kernel for a whole tile: C[6 rows, 32 columns] += alpha A-panel B-panel, accumulators in
     * registers for all kc steps, then added to C directly. No branch may merge vector values here (C2 would box
     * them, 10x slower): partial tiles go through {@link #edgeTile}.
     */
    private static void microKernel(float[] ap, int ai, float[] bp, int bi, int kc, float alpha,
                                        float[] c, int ci, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        // two steps of p per iteration: half the loop's index and bound-check instructions per multiply-add (on
        // cores whose FMA ports also run scalar instructions, those are FMA slots), then the odd one out
        int even = kc & ~1;
        for (int p = 0; p < even; p += 2, ai += 2 * MR, bi += 2 * NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
            FloatVector d0 = FloatVector.fromArray(S, bp, bi + NR);
            FloatVector d1 = FloatVector.fromArray(S, bp, bi + NR + VL);
            FloatVector e0 = FloatVector.broadcast(S, ap[ai + MR]);
            c00 = e0.fma(d0, c00);
            c01 = e0.fma(d1, c01);
            FloatVector e1 = FloatVector.broadcast(S, ap[ai + MR + 1]);
            c10 = e1.fma(d0, c10);
            c11 = e1.fma(d1, c11);
            FloatVector e2 = FloatVector.broadcast(S, ap[ai + MR + 2]);
            c20 = e2.fma(d0, c20);
            c21 = e2.fma(d1, c21);
            FloatVector e3 = FloatVector.broadcast(S, ap[ai + MR + 3]);
            c30 = e3.fma(d0, c30);
            c31 = e3.fma(d1, c31);
            FloatVector e4 = FloatVector.broadcast(S, ap[ai + MR + 4]);
            c40 = e4.fma(d0, c40);
            c41 = e4.fma(d1, c41);
            FloatVector e5 = FloatVector.broadcast(S, ap[ai + MR + 5]);
            c50 = e5.fma(d0, c50);
            c51 = e5.fma(d1, c51);
        }
        for (int p = even; p < kc; p++, ai += MR, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + VL);
            FloatVector a0 = FloatVector.broadcast(S, ap[ai]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
        }
        FloatVector va = FloatVector.broadcast(S, alpha);
        int r1 = ci + ldc;
        int r2 = r1 + ldc;
        int r3 = r2 + ldc;
        int r4 = r3 + ldc;
        int r5 = r4 + ldc;
        c00.fma(va, FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
        c01.fma(va, FloatVector.fromArray(S, c, ci + VL)).intoArray(c, ci + VL);
        c10.fma(va, FloatVector.fromArray(S, c, r1)).intoArray(c, r1);
        c11.fma(va, FloatVector.fromArray(S, c, r1 + VL)).intoArray(c, r1 + VL);
        c20.fma(va, FloatVector.fromArray(S, c, r2)).intoArray(c, r2);
        c21.fma(va, FloatVector.fromArray(S, c, r2 + VL)).intoArray(c, r2 + VL);
        c30.fma(va, FloatVector.fromArray(S, c, r3)).intoArray(c, r3);
        c31.fma(va, FloatVector.fromArray(S, c, r3 + VL)).intoArray(c, r3 + VL);
        c40.fma(va, FloatVector.fromArray(S, c, r4)).intoArray(c, r4);
        c41.fma(va, FloatVector.fromArray(S, c, r4 + VL)).intoArray(c, r4 + VL);
        c50.fma(va, FloatVector.fromArray(S, c, r5)).intoArray(c, r5);
        c51.fma(va, FloatVector.fromArray(S, c, r5 + VL)).intoArray(c, r5 + VL);
    }

    /**
     * A partial tile (height < MR or width < NR, at the matrix edges): the whole-tile kernel runs into a zeroed
     * scratch tile, and the height x width corner is added to C.
     */
    private static void edgeTile(float[] ap, int ai, float[] bp, int bi, int kc, float alpha,
                                 float[] c, int ci, int ldc, int height, int width, float[] tile) {
        java.util.Arrays.fill(tile, 0f);
        microKernel(ap, ai, bp, bi, kc, 1f, tile, 0, NR);
        for (int i = 0; i < height; i++) {
            for (int j = 0; j < width; j++) {
                c[ci + i * ldc + j] += alpha * tile[i * NR + j];
            }
        }
    }
}
