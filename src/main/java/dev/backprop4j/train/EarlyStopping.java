package dev.backprop4j.train;

import dev.backprop4j.nn.Module;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Early stopping on a validation loss, keeping the best weights (as Keras's {@code EarlyStopping(patience,
 * restore_best_weights=True)}; PyTorch users write it by hand): after every epoch, {@link #update} with the epoch's
 * validation loss copies the parameters (on their device, no host transfer) when the loss is the lowest so far;
 * {@link #shouldStop} is true once {@code patience} epochs passed without a lower one; {@link #restoreBest} copies
 * the best epoch's weights back into the model. Closing frees the copies.
 */
public final class EarlyStopping implements AutoCloseable {
    private final List<Tensor> params;
    private final int patience;
    private final List<Tensor> best = new ArrayList<>();
    private int bestEpoch;
    private double bestLoss = Double.POSITIVE_INFINITY;
    private int sinceBest;

    /** Watches {@code model}'s parameters; patience &gt;= 1 epochs without improvement end the run. */
    public EarlyStopping(Module model, int patience) {
        if (patience < 1) {
            throw new IllegalArgumentException("EarlyStopping: patience must be at least 1, got " + patience);
        }
        this.params = model.parameters();
        this.patience = patience;
    }

    /** Records epoch {@code epoch}'s validation loss; returns whether it is the lowest so far (then kept). */
    public boolean update(int epoch, double validationLoss) {
        if (!(validationLoss < bestLoss)) {
            sinceBest++;
            return false;
        }
        bestLoss = validationLoss;
        bestEpoch = epoch;
        sinceBest = 0;
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                if (best.size() <= i) {
                    Tensor copy = Tensor.empty(p.shape(), p.dtype(), p.device());
                    Scope.detach(copy);
                    best.add(copy);
                }
                best.get(i).copyFrom(p);
            }
        }
        return true;
    }

    /** Whether {@code patience} epochs have passed since the best one. */
    public boolean shouldStop() {
        return sinceBest >= patience;
    }

    /** The epoch of the lowest validation loss (0 before any). */
    public int bestEpoch() {
        return bestEpoch;
    }

    /** The lowest validation loss seen (+inf before any). */
    public double bestLoss() {
        return bestLoss;
    }

    /** Copies the best epoch's weights back into the model (nothing before any epoch). */
    public void restoreBest() {
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (int i = 0; i < best.size(); i++) {
                params.get(i).copyFrom(best.get(i));
            }
        }
    }

    @Override
    public void close() {
        best.forEach(Tensor::close);
        best.clear();
    }
}
