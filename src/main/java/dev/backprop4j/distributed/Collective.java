package dev.backprop4j.distributed;

/**
 * Collective operations among the ranks of a data-parallel run, over host arrays: every rank calls the same operations
 * in the same order with arrays of the same length, and each call returns when this rank's part is done. Results
 * are bitwise the same on every rank (each element is summed in one fixed order, then copied to all).
 * Implementations: {@link InProcessCollective} (threads of one process), {@link RingCollective} (TCP, any machines).
 * NCCL would be a third, for GPU memory without the trip through the host.
 */
public interface Collective extends AutoCloseable {

    /** This rank, from 0. */
    int rank();

    /** The number of ranks. */
    int size();

    /** data = the element-wise sum of every rank's data, in place. */
    void allReduceSum(float[] data);

    /** data = the element-wise sum of every rank's data, in place. */
    void allReduceSum(double[] data);

    /** data = rank {@code root}'s data, on every rank. */
    void broadcast(float[] data, int root);

    /** data = rank {@code root}'s data, on every rank. */
    void broadcast(double[] data, int root);

    /** Returns when every rank has called it. */
    default void barrier() {
        allReduceSum(new double[1]);
    }

    @Override
    void close();
}
