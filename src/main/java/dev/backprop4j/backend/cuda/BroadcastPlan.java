package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.Shape;

/**
 * The {@code BroadcastArgs} struct of kernels/common.cuh for one broadcast: the output's dimensions and the
 * element strides of one or two inputs aligned to them from the right (NumPy rules), 0 where an input has
 * size 1 or lacks the dimension. Output dimensions of size 1 are dropped and neighbours that both inputs walk
 * contiguously are merged (a bias add [b, s, h] + [h] becomes [b*s, h]), so the kernel divides as few times
 * as possible; at most {@link #MAX_RANK} dimensions may remain.
 *
 * <p>Struct layout: 25 consecutive 64-bit integers, {@code rank, dims[8], aStrides[8], bStrides[8]}.
 */
final class BroadcastPlan {
    /** MAX_RANK of kernels/common.cuh. */
    static final int MAX_RANK = 8;

    private BroadcastPlan() {
    }

    /** The struct for inputs a and b (b may be null: its strides are then 0) broadcast to out. */
    static long[] pack(String op, Shape out, Shape a, Shape b) {
        int r = out.rank();
        int[] dims = out.dims();
        long[] sa = aligned(op, a, out);
        long[] sb = b == null ? new long[r] : aligned(op, b, out);
        long[] md = new long[r];
        long[] ma = new long[r];
        long[] mb = new long[r];
        int m = 0;
        for (int d = 0; d < r; d++) {
            long size = dims[d];
            if (size == 1) {
                continue; // index always 0: contributes nothing
            }
            if (m > 0 && ma[m - 1] == sa[d] * size && mb[m - 1] == sb[d] * size) {
                md[m - 1] *= size; // the outer neighbour continues this dimension contiguously in both inputs
                ma[m - 1] = sa[d];
                mb[m - 1] = sb[d];
            } else {
                md[m] = size;
                ma[m] = sa[d];
                mb[m] = sb[d];
                m++;
            }
        }
        if (m > MAX_RANK) {
            throw new IllegalArgumentException(op + ": broadcasting " + a + (b == null ? "" : " and " + b) + " to "
                    + out + " needs " + m + " dimensions after merging, more than the CUDA kernels' " + MAX_RANK);
        }
        long[] packed = new long[1 + 3 * MAX_RANK];
        packed[0] = m;
        System.arraycopy(md, 0, packed, 1, m);
        System.arraycopy(ma, 0, packed, 1 + MAX_RANK, m);
        System.arraycopy(mb, 0, packed, 1 + 2 * MAX_RANK, m);
        return packed;
    }

    /** Strides of {@code in} aligned to {@code out}'s dimensions, 0 along broadcast ones. */
    private static long[] aligned(String op, Shape in, Shape out) {
        int r = out.rank();
        int shift = r - in.rank();
        if (shift < 0) {
            throw new IllegalArgumentException(op + ": cannot broadcast " + in + " to " + out);
        }
        long[] strides = new long[r];
        long s = 1;
        for (int d = in.rank() - 1; d >= 0; d--) {
            int size = in.dim(d);
            int target = out.dim(d + shift);
            if (size != 1 && size != target) {
                throw new IllegalArgumentException(op + ": cannot broadcast " + in + " to " + out);
            }
            strides[d + shift] = size == 1 ? 0 : s;
            s *= size;
        }
        return strides;
    }
}
