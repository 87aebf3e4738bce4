package dev.backprop4j.ops;

import dev.backprop4j.tensor.Tensor;

/**
 * Loss functions. Each reduces its per-element (per-row for cross-entropy) losses as PyTorch's {@code reduction}
 * argument does: {@link Reduction#MEAN} (the default overloads), {@link Reduction#SUM}, or {@link Reduction#NONE}
 * (the unreduced losses, shaped like the prediction, or [rows]).
 */
public final class Losses {

    /** How the per-element losses become the result. */
    public enum Reduction {
        /** their mean, a scalar */
        MEAN,
        /** their sum, a scalar */
        SUM,
        /** the losses themselves */
        NONE
    }

    private Losses() {
    }

    private static Tensor reduce(Tensor losses, Reduction reduction) {
        return switch (reduction) {
            case MEAN -> losses.mean();
            case SUM -> losses.sum();
            case NONE -> losses;
        };
    }

    /** mean((prediction - target)^2) over all elements; shapes must match. */
    public static Tensor mse(Tensor prediction, Tensor target) {
        return mse(prediction, target, Reduction.MEAN);
    }

    /** (prediction - target)^2 per element, reduced; shapes must match. */
    public static Tensor mse(Tensor prediction, Tensor target, Reduction reduction) {
        requireSameShape("mse", prediction, target);
        return reduce(prediction.sub(target).square(), reduction);
    }

    /** mean over rows of -log softmax(logits)[label]: logits [rows, classes], int32 labels [rows]. */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        return crossEntropy(logits, labels, Reduction.MEAN);
    }

    /** -log softmax(logits)[label] per row (fused and stable, reduced in the same op: {@link CrossEntropy}). */
    public static Tensor crossEntropy(Tensor logits, Tensor labels, Reduction reduction) {
        return switch (reduction) {
            case MEAN -> CrossEntropy.mean(logits, labels);
            case SUM -> CrossEntropy.sum(logits, labels);
            case NONE -> CrossEntropy.apply(logits, labels);
        };
    }

    /**
     * Cross-entropy against smoothed targets, as PyTorch's {@code F.cross_entropy(..., label_smoothing=smoothing)}:
     * the target puts 1 - smoothing on the label plus smoothing / classes on every class, so each row's loss is
     * (1 - smoothing) (-log p[label]) + smoothing mean_c(-log p_c), p = softmax(logits); reduced. smoothing in [0, 1]
     * (0: {@link #crossEntropy(Tensor, Tensor, Reduction)}).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor labels, double smoothing, Reduction reduction) {
        if (!(smoothing >= 0 && smoothing <= 1)) {
            throw new IllegalArgumentException("cross_entropy: label smoothing must be in [0, 1], got " + smoothing);
        }
        if (smoothing == 0) {
            return crossEntropy(logits, labels, reduction);
        }
        Tensor nll = CrossEntropy.apply(logits, labels);
        Tensor uniform = logits.logSoftmax(1).mean(1).neg();
        return reduce(nll.mul(1 - smoothing).add(uniform.mul(smoothing)), reduction);
    }

    /**
     * mean of -[t log sigmoid(x) + (1-t) log(1 - sigmoid(x))] = mean of softplus(x) - x t, with softplus computed
     * stably as max(x, 0) + log(1 + e^-|x|); targets in [0, 1], same shape as logits. The gradient is exactly
     * (sigmoid(x) - t) / N everywhere, x = 0 included.
     */
    public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor targets) {
        return binaryCrossEntropyWithLogits(logits, targets, Reduction.MEAN);
    }

    /** softplus(x) - x t per element, reduced (see the mean form). */
    public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor targets, Reduction reduction) {
        requireSameShape("binary_cross_entropy_with_logits", logits, targets);
        return reduce(logits.softplus().sub(logits.mul(targets)), reduction);
    }

    /**
     * Adds a batch to running totals on the device, outside the tape and without waiting: totals (float64 [3]) +=
     * {meanLoss rows, the rows whose first largest logit is at their label, rows}, for a batch-mean loss (one
     * element), logits [rows, classes] and int32 labels [rows]; for a regression batch (float targets [rows, 1]
     * beside outputs [rows, 1]), {meanLoss rows, 0, rows}. Read the totals when convenient
     * ({@link Tensor#readLater()}).
     */
    public static void accumulateMetrics(Tensor meanLoss, Tensor logits, Tensor labels, Tensor totals) {
        boolean regression = labels.dtype().isFloating() && labels.dtype().isArithmetic();
        if (!regression) {
            OpSupport.intIndexOn("accumulateMetrics", "labels", labels, logits);
        }
        if (totals.dtype() != dev.backprop4j.core.DType.FLOAT64 || totals.size() != 3 || meanLoss.size() != 1
                || logits.rank() != 2 || labels.size() != logits.dim(0) || !totals.device().equals(logits.device())
                || (regression && !labels.device().equals(logits.device()))) {
            throw new IllegalArgumentException("accumulateMetrics: expected a one-element loss, logits [rows, "
                    + "classes] and labels [rows] (or outputs and targets [rows, 1]) and float64 totals [3] on one "
                    + "device, got " + meanLoss.describe() + ", " + logits.describe() + ", " + labels.describe() + ", "
                    + totals.describe());
        }
        totals.backend().accumulateMetrics(meanLoss.buffer(), logits.buffer(), regression ? null : labels.buffer(),
                logits.dim(0), regression ? 0 : logits.dim(1), totals.buffer());
    }

    private static void requireSameShape(String op, Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException(op + ": prediction " + a.shape() + " and target " + b.shape()
                    + " must have the same shape");
        }
    }
}
