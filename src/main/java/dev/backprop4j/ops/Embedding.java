package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Embedding lookup, as PyTorch's {@code F.embedding(index, weight)}: for a table [num, dim] and int32 indices of any
 * shape, the rows the indices name, shaped [indices..., dim]. An index outside [0, num) fails naming it and its
 * position. Backward: the table's gradient is zeros with each row's gradient added into the row it came from, in
 * index order (the same bits on every run and backend, where PyTorch's CUDA embedding backward is
 * nondeterministic unless told otherwise); the indices get none.
 */
public final class Embedding {
    private Embedding() {
    }

    public static Tensor apply(Tensor table, Tensor index) {
        OpSupport.floating("embedding", table);
        OpSupport.intIndexOn("embedding", "index", index, table);
        if (table.rank() != 2) {
            throw new IllegalArgumentException("embedding: the table must be [num, dim], got " + table.shape());
        }
        int num = table.dim(0);
        int dim = table.dim(1);
        int n = Math.toIntExact(index.size());
        int[] dims = new int[index.rank() + 1];
        System.arraycopy(index.shape().dims(), 0, dims, 0, index.rank());
        dims[index.rank()] = dim;
        Tensor out = OpSupport.empty(Shape.of(dims), table);
        table.backend().embedding(table.buffer(), index.buffer(), n, num, dim, out.buffer());
        return Tape.record("embedding", out, g -> {
            Tensor dtable = OpSupport.empty(table.shape(), g);
            g.backend().embeddingBackward(g.buffer(), index.buffer(), n, num, dim, dtable.buffer());
            return new Tensor[] {dtable, null};
        }, table, index);
    }
}
