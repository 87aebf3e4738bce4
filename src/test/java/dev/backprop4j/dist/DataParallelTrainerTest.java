package dev.backprop4j.dist;

import dev.backprop4j.core.Device;
import dev.backprop4j.data.DataLoader;
import dev.backprop4j.data.Dataset;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * N ranks training on their shares of every batch of B rows follow one process training on the whole batches (SGD
 * with momentum, 20+ steps, within 1e-5), the ranks stay bitwise equal to each other, over the TCP ring as in
 * process, and ranks whose parameters drift apart fail loudly.
 */
class DataParallelTrainerTest {
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

    private static List<float[]> parameters(Sequential m) {
        List<float[]> out = new ArrayList<>();
        m.parameters().forEach(p -> out.add(p.toFloatArray()));
        return out;
    }

    /** One process, whole batches: the reference. */
    private static List<float[]> singleProcess() {
        Sequential m = model();
        Trainer t = new Trainer(m, new Sgd(m.parameters(), 0.1).momentum(0.9));
        t.epoch(new DataLoader(data(), BATCH, true, 5, false, Device.CPU), 1, null);
        return parameters(m);
    }

    private static List<List<float[]>> ranks(List<Collective> members) throws Exception {
        return CollectiveTest.onRanks(members.size(), r -> {
            Sequential m = model();
            if (r > 0) {
                m.parameters().forEach(p -> p.backend().write(p.buffer(), new float[(int) p.size()])); // zeros: the broadcast must fix them
            }
            DataParallelTrainer t = new DataParallelTrainer(m, new Sgd(m.parameters(), 0.1).momentum(0.9),
                    members.get(r)).checkEvery(4);
            DataParallelTrainer.EpochStats s = t.epoch(new DataLoader(data(), BATCH, true, 5, false, Device.CPU), 1,
                    null);
            assertEquals(21, s.steps());
            assertEquals(data().size(), s.samples());
            return parameters(m);
        });
    }

    private static void assertFollows(List<float[]> reference, List<List<float[]>> ranks) {
        for (int r = 0; r < ranks.size(); r++) {
            for (int k = 0; k < reference.size(); k++) {
                assertArrayEquals(ranks.get(0).get(k), ranks.get(r).get(k), "rank " + r + " differs from rank 0");
                float[] ref = reference.get(k);
                float[] got = ranks.get(r).get(k);
                for (int i = 0; i < ref.length; i++) {
                    assertEquals(ref[i], got[i], 1e-5, "parameter " + k + " element " + i);
                }
            }
        }
    }

    @Test
    void twoAndThreeRanksInProcessFollowOneProcessWithTheWholeBatches() throws Exception {
        List<float[]> reference = singleProcess();
        assertFollows(reference, ranks(InProcessCollective.group(2)));
        assertFollows(reference, ranks(InProcessCollective.group(3)));
    }

    @Test
    void twoRanksOverTheTcpRingFollowOneProcess() throws Exception {
        List<Collective> ring = CollectiveTest.ring(2);
        try {
            assertFollows(singleProcess(), ranks(ring));
        } finally {
            ring.forEach(Collective::close);
        }
    }

    @Test
    void float64ParametersAreRefusedNamingTheParameter() {
        Sequential m = Mlp.of(6, 3).dtype(dev.backprop4j.core.DType.FLOAT64).seed(1).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DataParallelTrainer(m,
                new Sgd(m.parameters(), 0.1), InProcessCollective.group(1).get(0)));
        assertTrue(e.getMessage().contains("is not float32"), e.getMessage());
    }

    @Test
    void ranksWhoseParametersDriftApartFailNamingTheStep() throws Exception {
        List<Collective> members = InProcessCollective.group(2);
        List<String> errors = CollectiveTest.onRanks(2, r -> {
            Sequential m = model();
            DataParallelTrainer t = new DataParallelTrainer(m, new Sgd(m.parameters(), 0.1), members.get(r))
                    .checkEvery(1);
            if (r == 1) {
                Tensor w = m.parameters().get(0);
                float[] v = w.toFloatArray();
                v[0] += 1e-3f;
                w.backend().write(w.buffer(), v);
            }
            Exception e = assertThrows(IllegalStateException.class,
                    () -> t.epoch(new DataLoader(data(), BATCH, true, 5, false, Device.CPU), 1, null));
            return e.getMessage();
        });
        errors.forEach(m -> assertTrue(m.contains("the ranks' parameters differ at epoch 1, batch 1"), m));
    }
}
