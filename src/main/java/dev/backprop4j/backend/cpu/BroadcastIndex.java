package dev.backprop4j.backend.cpu;

import dev.backprop4j.core.Shape;

/**
 * Maps positions of a broadcast output back into one input: the input's strides aligned to the
 * output's dimensions from the right, 0 where the input has size 1 or lacks the dimension.
 * Rows are the output's positions over all dimensions but the last.
 */
final class BroadcastIndex {
    private final int[] outDims;
    private final long[] strides;

    BroadcastIndex(Shape in, Shape out) {
        this.outDims = out.dims();
        int r = out.rank();
        this.strides = new long[r];
        long[] inStrides = in.strides();
        int shift = r - in.rank();
        for (int i = shift; i < r; i++) {
            strides[i] = in.dim(i - shift) == 1 ? 0 : inStrides[i - shift];
        }
    }

    long lastStride() {
        return strides.length == 0 ? 0 : strides[strides.length - 1];
    }

    /** Offset in the input of the first element of output row {@code row}. */
    long rowOffset(int row) {
        long off = 0;
        int rest = row;
        for (int d = outDims.length - 2; d >= 0; d--) {
            int size = outDims[d];
            int idx = rest % size;
            rest /= size;
            off += idx * strides[d];
        }
        return off;
    }
}
