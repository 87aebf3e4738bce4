package dev.backprop4j.distributed;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data parallelism is the one training loop with a gradient hook: N ranks, each a {@link Trainer} on its share of
 * every batch of B rows, follow one process training on the whole batches (within 1e-5, over 20+ steps), with SGD and
 * momentum as with Adam under a cosine schedule and clipping; the ranks stay bitwise equal to each other, over the
 * TCP ring as in process; each step makes exactly one all-reduce; ranks whose parameters drift apart fail loudly.
 */
class DataParallelTest {
    private static final int BATCH = 32;

    static Dataset data() {
        Random random = new Random(9);
        int rows = BATCH * 20 + 7; // 20 full batches and a partial one of 7 rows
        float[] x = new float[rows * 6];
        int[] y = new int[rows];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < 6; j++) {
                x[i * 6 + j] = (float) random.nextGaussian();
            }
            y[i] = (x[i * 6] + x[i * 6 + 1] > 0 ? 1 : 0) + (x[i * 6 + 2] > 0.5 ? 1 : 0);
        }
        return new Dataset(x, y, 6, 3);
    }

    private static Sequential model() {
        return Mlp.of(6, 16, 3).activation(Activation.TANH).seed(3).build();
    }

    private static final Function<Sequential, Optimizer> SGD = m -> new Sgd(m.parameters(), 0.1).momentum(0.9);

    /** Adam under a cosine schedule, clipped hard enough that clipping acts on most steps. */
    private static Trainer adamClippedCosine(Sequential m) {
        return new Trainer(m, new Adam(m.parameters(), 0.02)).clipNorm(0.5)
                .schedule(LrSchedule.cosineWithWarmup(0.02, 3, 42, 0));
    }

    /** What a run ends with: every parameter's values, then the epochs' losses, accuracies and samples. */
    private static List<float[]> run(Trainer t, DataLoader loader) {
        List<float[]> out = new ArrayList<>();
        double[] stats = new double[6];
        for (int e = 1; e <= 2; e++) {
            Trainer.EpochStats s = t.epoch(loader, e, null);
            stats[3 * e - 3] = s.loss();
            stats[3 * e - 2] = s.accuracy();
            stats[3 * e - 1] = s.samples();
        }
        t.model().parameters().forEach(p -> out.add(p.toFloatArray()));
        float[] f = new float[stats.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) stats[i];
        }
        out.add(f);
        return out;
    }

    private static DataLoader loader() {
        return new DataLoader(data(), BATCH, true, 5, false, Device.CPU);
    }

    /** One process, whole batches: the reference. */
    private static List<float[]> singleProcess(Function<Sequential, Trainer> trainer) {
        return run(trainer.apply(model()), loader());
    }

    private static List<List<float[]>> ranks(List<Collective> members, Function<Sequential, Trainer> trainer)
            throws Exception {
        return CollectiveTest.onRanks(members.size(), r -> {
            Sequential m = model();
            if (r > 0) {
                m.parameters().forEach(p -> p.copyFrom(new float[(int) p.size()])); // zeros: the broadcast fixes them
            }
            DataParallel dp = new DataParallel(members.get(r)).checkEvery(4);
            Trainer t = trainer.apply(m).gradients(dp);
            dp.broadcast(t);
            return run(t, loader().shard(r, members.size()));
        });
    }

    private static void assertFollows(List<float[]> reference, List<List<float[]>> ranks) {
        for (int r = 0; r < ranks.size(); r++) {
            for (int k = 0; k < reference.size(); k++) {
                assertArrayEquals(ranks.get(0).get(k), ranks.get(r).get(k), "rank " + r + " differs from rank 0");
                float[] ref = reference.get(k);
                float[] got = ranks.get(r).get(k);
                for (int i = 0; i < ref.length; i++) {
                    assertEquals(ref[i], got[i], 1e-5, (k == reference.size() - 1 ? "epoch stats" : "parameter " + k)
                            + " element " + i);
                }
            }
        }
    }

    @Test
    void twoAndThreeRanksInProcessFollowOneProcessWithTheWholeBatches() throws Exception {
        Function<Sequential, Trainer> sgd = m -> new Trainer(m, SGD.apply(m));
        List<float[]> reference = singleProcess(sgd);
        assertFollows(reference, ranks(InProcessCollective.group(2), sgd));
        assertFollows(reference, ranks(InProcessCollective.group(3), sgd));
    }

    /** Everything the trainer has works with N ranks: Adam, a warmup + cosine schedule, clipping, running metrics. */
    @Test
    void twoRanksWithAdamCosineAndClippingFollowOneProcess() throws Exception {
        assertFollows(singleProcess(DataParallelTest::adamClippedCosine),
                ranks(InProcessCollective.group(2), DataParallelTest::adamClippedCosine));
    }

    /**
     * Ranks that hold rows of their own (Spark partitions of 400 and 247 rows) train as one process does on the global
     * batches their slices make up: every rank takes ceil(647 / 32) = 21 steps an epoch, uneven shares weighted by
     * their rows, and every row is visited once an epoch.
     */
    @Test
    void ranksWithUnevenPartitionsFollowOneProcessOnTheUnionOfTheirSlices() throws Exception {
        Dataset all = data();
        Dataset[] parts = {all.range(0, 400), all.range(400, all.size())};
        int[] rows = {400, all.size() - 400};
        Function<Integer, DataLoader> part = r -> DataLoader.partitioned(parts[r], rows, r, BATCH, 5, Device.CPU);
        assertEquals(21, part.apply(0).batches());
        assertEquals(21, part.apply(1).batches());
        int visited = 0;
        for (int k = 0; k < 21; k++) {
            assertEquals(part.apply(0).rowsOfBatch(k), part.apply(1).rowsOfBatch(k));
            visited += part.apply(0).rowsOfBatch(k);
        }
        assertEquals(all.size(), visited);

        Sequential one = model();
        Trainer reference = adamClippedCosine(one);
        for (int e = 1; e <= 2; e++) {
            var b0 = part.apply(0).epoch(e).iterator();
            var b1 = part.apply(1).epoch(e).iterator();
            while (b0.hasNext()) {
                try (DataLoader.Batch a = b0.next(); DataLoader.Batch b = b1.next();
                     Tensor x = Tensor.cat(List.of(a.x(), b.x()), 0); Tensor y = Tensor.cat(List.of(a.y(), b.y()), 0)) {
                    assertEquals(a.batchRows(), a.size() + b.size());
                    reference.step(x, y);
                }
            }
            assertTrue(!b1.hasNext());
        }
        List<Collective> members = InProcessCollective.group(2);
        List<List<float[]>> ranks = CollectiveTest.onRanks(2, r -> {
            Sequential m = model();
            DataParallel dp = new DataParallel(members.get(r)).checkEvery(4);
            Trainer t = adamClippedCosine(m).gradients(dp);
            dp.broadcast(t);
            for (int e = 1; e <= 2; e++) {
                t.epoch(part.apply(r), e, null);
            }
            return m.parameters().stream().map(Tensor::toFloatArray).toList();
        });
        List<Tensor> expected = one.parameters();
        for (int k = 0; k < expected.size(); k++) {
            assertArrayEquals(ranks.get(0).get(k), ranks.get(1).get(k), "the ranks differ in parameter " + k);
            float[] want = expected.get(k).toFloatArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], ranks.get(0).get(k)[i], 1e-5, "parameter " + k + " element " + i);
            }
        }
    }

    @Test
    void aPartitionedLoaderRefusesACountThatIsNotItsRows() {
        Exception e = assertThrows(IllegalArgumentException.class,
                () -> DataLoader.partitioned(data().head(10), new int[] {12, 10}, 0, BATCH, 5, Device.CPU));
        assertEquals("DataLoader.partitioned: rank 0 of 2 holds 10 rows, and the ranks' counts are [12, 10]",
                e.getMessage());
    }

    @Test
    void twoRanksOverTheTcpRingFollowOneProcess() throws Exception {
        List<Collective> ring = CollectiveTest.ring(2);
        try {
            assertFollows(singleProcess(DataParallelTest::adamClippedCosine),
                    ranks(ring, DataParallelTest::adamClippedCosine));
        } finally {
            ring.forEach(Collective::close);
        }
    }

    /** A Collective that counts the calls it passes on. */
    private static final class Counting implements Collective {
        private final Collective inner;
        int floatReductions;
        int doubleReductions;

        Counting(Collective inner) {
            this.inner = inner;
        }

        public int rank() {
            return inner.rank();
        }

        public int size() {
            return inner.size();
        }

        public void allReduceSum(float[] data) {
            floatReductions++;
            inner.allReduceSum(data);
        }

        public void allReduceSum(double[] data) {
            doubleReductions++;
            inner.allReduceSum(data);
        }

        public void broadcast(float[] data, int root) {
            inner.broadcast(data, root);
        }

        public void broadcast(double[] data, int root) {
            inner.broadcast(data, root);
        }

        public void close() {
            inner.close();
        }
    }

    /**
     * Per step exactly one all-reduce (the gradients), and nothing else between two agreement checks: the loss and
     * accuracy stay on the device until the epoch's end, when one all-reduce of the totals (with the check) ends it.
     */
    @Test
    void eachStepMakesOneAllReduceAndTheEpochOneMore() throws Exception {
        List<Collective> group = InProcessCollective.group(2);
        List<int[]> counts = CollectiveTest.onRanks(2, r -> {
            Counting c = new Counting(group.get(r));
            Sequential m = model();
            DataParallel dp = new DataParallel(c).checkEvery(1000);
            Trainer t = new Trainer(m, SGD.apply(m)).gradients(dp);
            dp.broadcast(t);
            t.epoch(loader().shard(r, 2), 1, null);
            return new int[] {c.floatReductions, c.doubleReductions};
        });
        for (int[] c : counts) {
            assertEquals(21, c[0], "one gradient all-reduce per step");
            assertEquals(1, c[1], "one all-reduce of the totals and the checksum per epoch");
        }
    }

    @Test
    void float64ParametersAreRefusedNamingTheParameter() {
        Sequential m = Mlp.of(6, 3).dtype(DType.FLOAT64).seed(1).build();
        Trainer t = new Trainer(m, new Sgd(m.parameters(), 0.1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DataParallel(InProcessCollective.group(1).get(0)).broadcast(t));
        assertTrue(e.getMessage().contains("is not float32"), e.getMessage());
    }

    @Test
    void ranksWhoseParametersDriftApartFailNamingTheStep() throws Exception {
        List<Collective> members = InProcessCollective.group(2);
        List<String> errors = CollectiveTest.onRanks(2, r -> {
            Sequential m = model();
            Trainer t = new Trainer(m, SGD.apply(m)).gradients(new DataParallel(members.get(r)).checkEvery(1));
            if (r == 1) {
                Tensor w = m.parameters().get(0);
                float[] v = w.toFloatArray();
                v[0] += 1e-3f;
                w.copyFrom(v);
            }
            Exception e = assertThrows(IllegalStateException.class, () -> t.epoch(loader().shard(r, 2), 1, null));
            return e.getMessage();
        });
        errors.forEach(m -> assertTrue(m.contains("the ranks' parameters differ at step 1"), m));
    }
}
