package dev.backprop4j.distributed;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * A {@link Collective} among threads of one process, one per rank (for several GPUs in one machine, and for tests):
 * each rank posts its array, every rank sums its own slice of the elements over all ranks' arrays in rank order,
 * then copies the finished sums from the others' slices. Three barrier crossings per call, no copy beyond the sums.
 * A rank that fails should {@link #close} its member (try-with-resources): that breaks the barrier, and every other
 * rank fails at once instead of waiting (close it only when its work is done or failed); a rank that vanishes
 * without closing is noticed after the group's timeout.
 */
public final class InProcessCollective implements Collective {

    /** What the ranks of one group share. */
    private static final class Group {
        final int size;
        final CyclicBarrier barrier;
        final Object[] posted;

        final long timeoutMillis;
        volatile int closedBy = -1;

        Group(int size, long timeoutMillis) {
            this.size = size;
            this.timeoutMillis = timeoutMillis;
            this.barrier = new CyclicBarrier(size);
            this.posted = new Object[size];
        }
    }

    private final Group group;
    private final int rank;

    private InProcessCollective(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /** The members of a new group of {@code size} ranks (timeout 5 minutes): hand member i to the thread of rank i. */
    public static List<Collective> group(int size) {
        return group(size, java.time.Duration.ofMinutes(5));
    }

    /** As {@link #group(int)}; a rank waiting longer than {@code timeout} for the others fails. */
    public static List<Collective> group(int size, java.time.Duration timeout) {
        if (size < 1) {
            throw new IllegalArgumentException("a group needs at least 1 rank, got " + size);
        }
        Group g = new Group(size, timeout.toMillis());
        List<Collective> members = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            members.add(new InProcessCollective(g, r));
        }
        return members;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return group.size;
    }

    private void await() {
        if (group.closedBy >= 0) {
            throw new IllegalStateException("collective: rank " + group.closedBy + " left the group; rank " + rank
                    + " stops too");
        }
        try {
            group.barrier.await(group.timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("collective: rank " + rank + " waited " + group.timeoutMillis / 1000
                    + " s for the other ranks", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("collective: rank " + rank + " interrupted", e);
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException("collective: another rank failed; rank " + rank + " stops too", e);
        }
    }

    /** Posts {@code data}, waits for every rank's, and checks that the lengths agree. */
    private void post(Object data, int length) {
        group.posted[rank] = data;
        await();
        for (int r = 0; r < group.size; r++) {
            int other = group.posted[r] instanceof float[] f ? f.length : ((double[]) group.posted[r]).length;
            if (other != length) {
                throw new IllegalArgumentException("collective: rank " + r + " passed " + other + " elements, rank "
                        + rank + " " + length);
            }
        }
    }

    private int lo(int length) {
        return (int) ((long) length * rank / group.size);
    }

    private int hi(int length) {
        return (int) ((long) length * (rank + 1) / group.size);
    }

    @Override
    public void allReduceSum(float[] data) {
        post(data, data.length);
        float[] sum = new float[hi(data.length) - lo(data.length)];
        for (int r = 0; r < group.size; r++) {
            float[] other = (float[]) group.posted[r];
            for (int i = 0; i < sum.length; i++) {
                sum[i] += other[lo(data.length) + i];
            }
        }
        await(); // everyone has read the originals
        System.arraycopy(sum, 0, data, lo(data.length), sum.length);
        await(); // everyone's slice is final
        for (int r = 0; r < group.size; r++) {
            if (r != rank) {
                float[] other = (float[]) group.posted[r];
                int from = (int) ((long) data.length * r / group.size);
                int to = (int) ((long) data.length * (r + 1) / group.size);
                System.arraycopy(other, from, data, from, to - from);
            }
        }
        await(); // nobody changes its array before everyone has copied
    }

    @Override
    public void allReduceSum(double[] data) {
        post(data, data.length);
        double[] sum = new double[hi(data.length) - lo(data.length)];
        for (int r = 0; r < group.size; r++) {
            double[] other = (double[]) group.posted[r];
            for (int i = 0; i < sum.length; i++) {
                sum[i] += other[lo(data.length) + i];
            }
        }
        await();
        System.arraycopy(sum, 0, data, lo(data.length), sum.length);
        await();
        for (int r = 0; r < group.size; r++) {
            if (r != rank) {
                double[] other = (double[]) group.posted[r];
                int from = (int) ((long) data.length * r / group.size);
                int to = (int) ((long) data.length * (r + 1) / group.size);
                System.arraycopy(other, from, data, from, to - from);
            }
        }
        await();
    }

    @Override
    public void broadcast(float[] data, int root) {
        post(data, data.length);
        if (rank != root) {
            System.arraycopy((float[]) group.posted[root], 0, data, 0, data.length);
        }
        await();
    }

    @Override
    public void broadcast(double[] data, int root) {
        post(data, data.length);
        if (rank != root) {
            System.arraycopy((double[]) group.posted[root], 0, data, 0, data.length);
        }
        await();
    }

    /** Leaves the group: ranks waiting in a call, or calling later, fail instead of waiting. */
    @Override
    public void close() {
        group.closedBy = rank;
        group.barrier.reset();
    }
}
