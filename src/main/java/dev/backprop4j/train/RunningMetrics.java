package dev.backprop4j.train;

import dev.backprop4j.backend.PendingRead;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/**
 * The running loss and accuracy of a classifier (of a regression model: its loss) over many batches, kept on the
 * model's device: {@link #add} queues
 * one launch that adds a batch's loss and correct predictions to three device totals (loss sum, correct rows, rows),
 * and the host reads them without stalling the device, with {@link #poll} (a non-blocking copy every few adds,
 * picked up once it has finished) or at the end with {@link #await} (one wait). A training step therefore never
 * waits for its own loss. Labels the device found out of range are thrown by whichever read comes next.
 */
final class RunningMetrics implements AutoCloseable {

    /** What a read saw: the totals and the number of batches they cover. */
    record Totals(double lossSum, long correct, long samples, int batches) {
        double meanLoss() {
            return lossSum / samples;
        }

        double accuracy() {
            return (double) correct / samples;
        }
    }

    private final int readEvery;
    private Tensor totals;
    private PendingRead pending;
    private int pendingBatches;
    private int batches;
    private int batchesAtLastStart;

    /**
     * Totals on the device of the first batch added; {@link #poll} starts a read at most every {@code readEvery}
     * batches.
     */
    RunningMetrics(int readEvery) {
        this.readEvery = readEvery;
    }

    /** Sets the totals to zero (queued, no wait); a read in flight is dropped. */
    void reset() {
        drop();
        if (totals != null) {
            totals.copyFrom(new double[3]);
        }
        batches = 0;
        batchesAtLastStart = 0;
    }

    /**
     * Adds a batch: its mean loss (a scalar), logits [rows, classes] and int32 labels [rows] (a regression batch:
     * outputs and targets [rows, 1], counted as no correct rows). Queued, no wait.
     */
    void add(Tensor meanLoss, Tensor logits, Tensor labels) {
        queue(meanLoss, logits, labels);
        counted();
    }

    /** Counts a batch on the host (what {@link #poll} and {@link #await} report as batches), once per step. */
    void counted() {
        batches++;
    }

    /**
     * The device's part of {@link #add}, without counting the batch: what a training step (eager, or captured in a
     * CUDA graph and replayed) queues.
     */
    void queue(Tensor meanLoss, Tensor logits, Tensor labels) {
        boolean regression = labels.dtype() == logits.dtype() && labels.shape().equals(logits.shape())
                && logits.rank() == 2 && logits.dim(1) == 1;
        if (meanLoss.size() != 1 || logits.rank() != 2 || labels.dim(0) != logits.dim(0)
                || meanLoss.dtype() != logits.dtype() || !(regression || labels.rank() == 1
                && labels.dtype() == DType.INT32)) {
            throw new IllegalArgumentException("metrics: expected a scalar loss of the logits' dtype, logits [rows, "
                    + "classes] and int32 labels [rows] (or outputs and float targets [rows, 1]), got loss "
                    + meanLoss.describe() + ", logits " + logits.describe() + ", labels " + labels.describe());
        }
        if (totals == null) {
            totals = Tensor.zeros(Shape.of(3), DType.FLOAT64, logits.device());
            Scope.detach(totals);
        } else if (!totals.device().equals(logits.device())) {
            throw new IllegalArgumentException("metrics: logits on " + logits.device() + ", earlier batches on "
                    + totals.device());
        }
        Losses.accumulateMetrics(meanLoss, logits, labels, totals);
    }

    /**
     * Never waits: returns the totals of a read that has finished since the last call (null when none has), and
     * starts the next read when none is in flight and {@code readEvery} batches were added since the last start.
     */
    Totals poll() {
        Totals seen = null;
        if (pending != null && pending.isDone()) {
            seen = totals(pending.get(), pendingBatches);
            pending = null;
        }
        if (pending == null && batches - batchesAtLastStart >= readEvery) {
            pending = totals.readLater();
            pendingBatches = batches;
            batchesAtLastStart = batches;
            if (seen == null && pending.isDone()) { // the CPU: at once
                seen = totals(pending.get(), pendingBatches);
                pending = null;
            }
        }
        return seen;
    }

    /** The totals of every batch added, waiting for the device. */
    Totals await() {
        drop();
        if (totals == null) {
            return new Totals(0, 0, 0, 0);
        }
        return totals(totals.toDoubleArray(), batches);
    }

    /** Takes a read still in flight (so its pinned buffer goes back to the pool) and forgets its values. */
    private void drop() {
        if (pending != null) {
            PendingRead p = pending;
            pending = null;
            p.get();
        }
    }

    private static Totals totals(double[] v, int batches) {
        return new Totals(v[0], (long) v[1], (long) v[2], batches);
    }

    @Override
    public void close() {
        if (totals != null) {
            totals.close();
        }
    }
}
