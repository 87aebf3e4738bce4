package dev.backprop4j.data;

import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Tensor;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;

/**
 * Batches of a {@link Dataset} as tensors on a device: x float32 [batch, features], y int32 [batch] (a regression
 * set's targets: float32 [batch, 1]).
 * With shuffle, epoch e visits the samples in a permutation drawn from seed + e (Fisher-Yates on
 * SplittableRandom: the same order on every machine). dropLast omits a final partial batch.
 * A {@link #shard} yields, of every batch, one rank's contiguous share of its rows (data-parallel training: the ranks
 * together see exactly the batches one process would). A {@link #partitioned} loader is one rank's when every rank
 * holds rows of its own (a Spark partition): the ranks' slices of step k make up global batch k.
 */
public final class DataLoader {
    /** Between two partitioned ranks' shuffle seeds (the golden ratio's 64 bits, SplittableRandom's own gamma). */
    private static final long PER_RANK = 0x9E3779B97F4A7C15L;

    private final Dataset data;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final Device device;
    private final int rank;
    private final int ranks;
    /** Every rank's own rows, for a {@link #partitioned} loader; else null (the ranks share the data set). */
    private final int[] partitionRows;
    /** Batches per epoch (every rank's, for a partitioned loader). */
    private final int batches;

    /**
     * A batch: features and labels, and the rows of the whole batch over all shards ({@code batchRows}, the batch's
     * own rows when the loader is not sharded); closing it frees both tensors.
     */
    public record Batch(Tensor x, Tensor y, int batchRows) implements AutoCloseable {
        public int size() {
            return y.dim(0);
        }

        @Override
        public void close() {
            x.close();
            y.close();
        }
    }

    public DataLoader(Dataset data, int batchSize, boolean shuffle, long seed, boolean dropLast, Device device) {
        this(data, batchSize, shuffle, seed, dropLast, device, 0, 1, null);
    }

    private DataLoader(Dataset data, int batchSize, boolean shuffle, long seed, boolean dropLast, Device device,
                       int rank, int ranks, int[] partitionRows) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("DataLoader: batch size must be > 0, got " + batchSize);
        }
        this.data = data;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.dropLast = dropLast;
        this.device = device;
        this.rank = rank;
        this.ranks = ranks;
        this.partitionRows = partitionRows;
        long n = partitionRows == null ? data.size() : Arrays.stream(partitionRows).asLongStream().sum();
        this.batches = (int) (dropLast ? n / batchSize : (n + batchSize - 1) / batchSize);
    }

    /**
     * Rank {@code rank}'s loader when each rank holds rows of its own ({@code mine}: {@code rowsPerRank[rank]} of
     * them) rather than the same set. Every rank takes the same number of steps per epoch, ceil(all ranks' rows /
     * batchSize), and in step k the k-th of that many even slices of its own rows, shuffled per epoch from the seed,
     * the epoch and its rank; global batch k is the union of the ranks' k-th slices (about batchSize rows, {@code
     * batchRows} counts them for the gradient's weighting), and an epoch visits every row of every rank once: nothing
     * is padded, dropped or repeated, so uneven partitions train as one process on those global batches would. A rank
     * with fewer rows than steps has some empty slices.
     */
    public static DataLoader partitioned(Dataset mine, int[] rowsPerRank, int rank, int batchSize, long seed,
                                         Device device) {
        if (rank < 0 || rank >= rowsPerRank.length || rowsPerRank[rank] != mine.size()) {
            throw new IllegalArgumentException("DataLoader.partitioned: rank " + rank + " of " + rowsPerRank.length
                    + " holds " + mine.size() + " rows, and the ranks' counts are " + Arrays.toString(rowsPerRank));
        }
        return new DataLoader(mine, batchSize, true, seed + PER_RANK * rank, false, device, rank, rowsPerRank.length,
                rowsPerRank.clone());
    }

    /**
     * This loader as rank {@code rank} of {@code ranks} sees it: the same batches in the same order, each cut into
     * {@code ranks} contiguous shares of rows (as even as can be), of which this one gets share {@code rank} (possibly
     * empty, for a last batch with fewer rows than ranks).
     */
    public DataLoader shard(int rank, int ranks) {
        if (ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("DataLoader.shard: rank " + rank + " of " + ranks);
        }
        if (partitionRows != null) {
            throw new IllegalStateException("DataLoader.shard: a partitioned loader is already rank " + this.rank
                    + "'s");
        }
        return new DataLoader(data, batchSize, shuffle, seed, dropLast, device, rank, ranks, null);
    }

    /** The rows of batch {@code i} over all shards (all ranks' slices, for a partitioned loader). */
    public int rowsOfBatch(int i) {
        if (partitionRows == null) {
            return Math.min(batchSize, data.size() - i * batchSize);
        }
        int rows = 0;
        for (int r = 0; r < partitionRows.length; r++) {
            rows += sliceEnd(partitionRows[r], i + 1) - sliceEnd(partitionRows[r], i);
        }
        return rows;
    }

    /** Where a partitioned loader's slice {@code k} of {@code rows} rows starts (and slice k - 1 ends). */
    private int sliceEnd(int rows, int k) {
        return (int) ((long) rows * k / batches());
    }

    public Dataset dataset() {
        return data;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Number of batches per epoch. */
    public int batches() {
        return batches;
    }

    /** The batches of epoch {@code epoch} (the epoch number picks the shuffle). */
    public Iterable<Batch> epoch(int epoch) {
        int[] order = order(epoch);
        int total = batches();
        return () -> new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < total;
            }

            @Override
            public Batch next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int from;
                int to;
                int batchRows = rowsOfBatch(next);
                if (partitionRows != null) {
                    from = sliceEnd(order.length, next);
                    to = sliceEnd(order.length, next + 1);
                } else {
                    int start = next * batchSize;
                    int end = Math.min(start + batchSize, order.length);
                    from = start + (int) ((long) (end - start) * rank / ranks);
                    to = start + (int) ((long) (end - start) * (rank + 1) / ranks);
                }
                next++;
                float[] x = new float[(to - from) * data.features()];
                int[] y = data.isRegression() ? null : new int[to - from];
                float[] t = data.isRegression() ? new float[to - from] : null;
                data.gather(order, from, to, x, y, t);
                Tensor xt = Tensor.of(x, to - from, data.features());
                Tensor yt = t != null ? Tensor.of(t, to - from, 1) : Tensor.of(y, to - from);
                return new Batch(move(xt), move(yt), batchRows);
            }
        };
    }

    private Tensor move(Tensor t) {
        if (device.equals(t.device())) {
            return t;
        }
        Tensor moved = t.to(device);
        t.close();
        return moved;
    }

    /**
     * The rows in the order epoch {@code epoch} visits them, batch after batch (all shards'; a partitioned loader's
     * own rows; for a peer framework fed the same batches, as PyTorch's {@code list(iter(sampler))}).
     */
    public int[] order(int epoch) {
        int[] idx = new int[data.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        if (shuffle) {
            SplittableRandom rnd = new SplittableRandom(seed + epoch);
            for (int i = idx.length - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        }
        return idx;
    }
}
