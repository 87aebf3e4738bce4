package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.Shape;

/**
 * The reference loops of the layout primitives that index ({@link Backend#broadcast}, {@link Backend#transpose}),
 * element by element through {@link CpuBuffer#get} and {@link CpuBuffer#set}.
 */
final class ReferenceLayout {
    private ReferenceLayout() {
    }

    static void broadcast(CpuBuffer s, Shape xShape, CpuBuffer d, Shape outShape) {
        BroadcastIndex ix = new BroadcastIndex(xShape, outShape);
        int last = outShape.rank() == 0 ? 1 : outShape.dim(-1);
        int rows = last == 0 ? 0 : outShape.intSize() / last;
        long stride = ix.lastStride();
        for (int r = 0; r < rows; r++) {
            int from = (int) ix.rowOffset(r);
            for (int j = 0; j < last; j++) {
                d.set(r * last + j, s.get(from + (int) (j * stride)));
            }
        }
    }

    static void transpose(CpuBuffer s, int batch, int rows, int cols, CpuBuffer d) {
        int plane = rows * cols;
        final int tile = 32;
        for (int b = 0; b < batch; b++) {
            int base = b * plane;
            for (int i0 = 0; i0 < rows; i0 += tile) {
                for (int j0 = 0; j0 < cols; j0 += tile) {
                    for (int i = i0; i < Math.min(rows, i0 + tile); i++) {
                        for (int j = j0; j < Math.min(cols, j0 + tile); j++) {
                            d.set(base + j * rows + i, s.get(base + i * cols + j));
                        }
                    }
                }
            }
        }
    }
}
