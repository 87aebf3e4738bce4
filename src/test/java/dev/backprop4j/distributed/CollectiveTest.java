package dev.backprop4j.distributed;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The collectives, on threads: the TCP ring on loopback and the in-process group, at 1-4 ranks, lengths from 0 to past
 * several chunks (odd, and one more or less than a chunk), and a 64 MB buffer. Values are small integers, so every
 * sum is exact whatever its order and the expected result is known.
 */
class CollectiveTest {

    /** Ring members for {@code size} ranks on loopback (each rank's listener bound first, as Spark's rendezvous does). */
    static List<Collective> ring(int size) throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        List<ServerSocketChannel> listeners = new ArrayList<>();
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            ServerSocketChannel l = RingCollective.listen(lo);
            listeners.add(l);
            addresses.add((InetSocketAddress) l.getLocalAddress());
        }
        return onRanks(size, r -> {
            try {
                return RingCollective.connect(r, addresses, listeners.get(r), Duration.ofSeconds(20));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    /** Runs f(rank) on one thread per rank and returns the results in rank order. */
    static <T> List<T> onRanks(int size, Function<Integer, T> f) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> f.apply(rank)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> fu : futures) {
                out.add(fu.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void checkAllReduceAndBroadcast(List<Collective> members, int length) throws Exception {
        int size = members.size();
        List<float[]> results = onRanks(size, r -> {
            float[] data = new float[length];
            for (int i = 0; i < length; i++) {
                data[i] = (i % 97) + r * 1000;
            }
            members.get(r).allReduceSum(data);
            return data;
        });
        float[] expected = new float[length];
        for (int i = 0; i < length; i++) {
            expected[i] = size * (i % 97) + 1000f * size * (size - 1) / 2;
        }
        for (int r = 0; r < size; r++) {
            assertArrayEquals(expected, results.get(r), size + " ranks, length " + length + ", rank " + r);
        }
        int root = size - 1;
        List<float[]> got = onRanks(size, r -> {
            float[] data = new float[length];
            java.util.Arrays.fill(data, r == root ? 7.5f : -1f);
            members.get(r).broadcast(data, root);
            return data;
        });
        float[] sevens = new float[length];
        java.util.Arrays.fill(sevens, 7.5f);
        got.forEach(d -> assertArrayEquals(sevens, d, "broadcast from rank " + root));
        List<double[]> doubles = onRanks(size, r -> {
            double[] d = {r, 0.5, 1e15 + r};
            members.get(r).allReduceSum(d);
            return d;
        });
        doubles.forEach(d -> assertArrayEquals(new double[] {size * (size - 1) / 2.0, 0.5 * size,
            1e15 * size + size * (size - 1) / 2.0}, d));
    }

    @Test
    void theRingSumsAndBroadcastsAtOneToFourRanksAndAnyLength() throws Exception {
        for (int size = 1; size <= 4; size++) {
            List<Collective> members = ring(size);
            try {
                for (int length : new int[] {0, 1, 5, 7, 65535, 65536, 65537, 1_000_003}) {
                    checkAllReduceAndBroadcast(members, length);
                }
                onRanks(size, r -> {
                    members.get(r).barrier();
                    return r;
                });
            } finally {
                members.forEach(Collective::close);
            }
        }
    }

    @Test
    void theRingAllReducesSixtyFourMegabytes() throws Exception {
        List<Collective> members = ring(2);
        try {
            long start = System.nanoTime();
            checkAllReduceAndBroadcast(members, 16 << 20);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(60));
        } finally {
            members.forEach(Collective::close);
        }
    }

    @Test
    void theInProcessGroupSumsAndBroadcastsAtOneToFourRanks() throws Exception {
        for (int size = 1; size <= 4; size++) {
            List<Collective> members = InProcessCollective.group(size);
            for (int length : new int[] {0, 1, 7, 65537}) {
                checkAllReduceAndBroadcast(members, length);
            }
        }
    }

    @Test
    void ranksPassingArraysOfDifferentLengthsFailNamingBoth() throws Exception {
        List<Collective> members = InProcessCollective.group(2);
        List<String> errors = onRanks(2, r -> {
            try {
                members.get(r).allReduceSum(new float[r == 0 ? 4 : 5]);
                return "returned";
            } catch (IllegalArgumentException e) {
                return e.getMessage();
            }
        });
        errors.forEach(m -> assertTrue(m.contains("passed 4 elements") || m.contains("passed 5 elements"), m));
    }

    @Test
    void anInProcessRankThatLeavesFailsTheOthersAtOnce() throws Exception {
        List<Collective> members = InProcessCollective.group(3);
        List<String> outcomes = onRanks(3, r -> {
            if (r == 2) {
                members.get(r).close(); // as a rank that failed in its own code, in a try-with-resources
                return "left";
            }
            try {
                members.get(r).allReduceSum(new float[10]);
                return "returned";
            } catch (IllegalStateException e) {
                return e.getMessage();
            }
        });
        for (int r = 0; r < 2; r++) {
            assertTrue(outcomes.get(r).contains("rank 2 left the group") || outcomes.get(r).contains("failed"),
                    outcomes.toString());
        }
    }

    @Test
    void aRankThatGoesAwayFailsItsNeighboursInsteadOfHangingThem() throws Exception {
        List<Collective> members = ring(2);
        members.get(1).close();
        Exception e = assertThrows(IllegalStateException.class, () -> members.get(0).allReduceSum(new float[1000]));
        assertTrue(e.getMessage().contains("rank 1") || e.getMessage().contains("rank 0"), e.getMessage());
        members.get(0).close();
        assertEquals(2, members.get(0).size());
    }
}
