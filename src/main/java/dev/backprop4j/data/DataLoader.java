package dev.backprop4j.data;

import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Tensor;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;

/**
 * Batches of a {@link Dataset} as tensors on a device: x float32 [batch, features], y int32 [batch] (a regression
 * set's targets: float32 [batch, 1]).
 * With shuffle, epoch e visits the samples in a permutation drawn from seed + e (Fisher-Yates on
 * SplittableRandom: the same order on every machine). dropLast omits a final partial batch.
 * A {@link #shard} yields, of every batch, one rank's contiguous share of its rows (data-parallel training: the ranks
 * together see exactly the batches one process would).
 */
public final class DataLoader {
    private final Dataset data;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final Device device;
    private final int rank;
    private final int ranks;

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
        this(data, batchSize, shuffle, seed, dropLast, device, 0, 1);
    }

    private DataLoader(Dataset data, int batchSize, boolean shuffle, long seed, boolean dropLast, Device device,
                       int rank, int ranks) {
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
        return new DataLoader(data, batchSize, shuffle, seed, dropLast, device, rank, ranks);
    }

    /** The rows of batch {@code i} over all shards. */
    public int rowsOfBatch(int i) {
        return Math.min(batchSize, data.size() - i * batchSize);
    }

    public Dataset dataset() {
        return data;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Number of batches per epoch. */
    public int batches() {
        int n = data.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
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
                int start = next * batchSize;
                int end = Math.min(start + batchSize, order.length);
                int from = start + (int) ((long) (end - start) * rank / ranks);
                int to = start + (int) ((long) (end - start) * (rank + 1) / ranks);
                next++;
                float[] x = new float[(to - from) * data.features()];
                int[] y = data.isRegression() ? null : new int[to - from];
                float[] t = data.isRegression() ? new float[to - from] : null;
                data.gather(order, from, to, x, y, t);
                Tensor xt = Tensor.of(x, to - from, data.features());
                Tensor yt = t != null ? Tensor.of(t, to - from, 1) : Tensor.of(y, to - from);
                return new Batch(move(xt), move(yt), end - start);
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
     * The rows in the order epoch {@code epoch} visits them, batch after batch (all shards'; for a peer framework fed
     * the same batches, as PyTorch's {@code list(iter(sampler))}).
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
