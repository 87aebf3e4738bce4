package dev.backprop4j.train;

import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * Work on the gradients of every training step, between the backward and the update ({@link Trainer#gradients}):
 * what data-parallel training needs so that N processes take the same step (the sum of their gradients). It runs
 * outside any CUDA graph, and every process's {@link Trainer} calls it at the same points of the same steps, so it
 * may call collectives.
 */
public interface GradientHook {

    /**
     * The gradients of {@code parameters} are complete for this process's {@code rows} of a batch of
     * {@code batchRows} rows over all processes: every parameter has one (zeros where the loss did not reach it, or
     * where this process had no rows of the batch). The hook may change them in place; clipping and the update
     * follow.
     */
    void gradients(List<Tensor> parameters, int rows, int batchRows);

    /**
     * At the end of an epoch, {@code totals} holds this process's loss summed over its rows, its correct predictions
     * and its rows; the hook may replace them, in place, by the totals over all processes (default: as they are).
     */
    default void epochEnd(int epoch, double[] totals) {
    }
}
