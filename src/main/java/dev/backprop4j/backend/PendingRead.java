package dev.backprop4j.backend;

/**
 * A device-to-host copy of a buffer started by {@link Backend#readLater} without waiting: it queues behind the
 * work already issued, and the host picks it up when {@link #isDone()} says it has finished, so a training loop can
 * read its running loss and accuracy every few steps without ever stalling the device. Errors the device found in
 * the work before the copy (an out-of-range label) are thrown by {@link #get()}, as a waiting read would throw them.
 */
public interface PendingRead {

    /** Whether the copy has finished; never waits. */
    boolean isDone();

    /** The buffer's values as doubles, waiting for the copy only if it has not finished. Call at most once. */
    double[] get();

    /** A read that finished at once (the CPU backend's). */
    static PendingRead done(double[] values) {
        return new PendingRead() {
            @Override
            public boolean isDone() {
                return true;
            }

            @Override
            public double[] get() {
                return values;
            }
        };
    }
}
