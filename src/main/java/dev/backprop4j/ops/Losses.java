package dev.backprop4j.ops;

import dev.backprop4j.tensor.Tensor;

/** Loss functions, each averaged over all elements (rows for cross-entropy) to a scalar. */
public final class Losses {
    private Losses() {
    }

    /** mean((prediction - target)^2) over all elements; shapes must match. */
    public static Tensor mse(Tensor prediction, Tensor target) {
        requireSameShape("mse", prediction, target);
        return prediction.sub(target).square().mean();
    }

    /** mean over rows of -log softmax(logits)[label]: logits [rows, classes], int32 labels [rows]. */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        return CrossEntropy.apply(logits, labels).mean();
    }

    /**
     * mean of -[t log sigmoid(x) + (1-t) log(1 - sigmoid(x))] = mean of softplus(x) - x t, with softplus computed
     * stably as max(x, 0) + log(1 + e^-|x|); targets in [0, 1], same shape as logits. The gradient is exactly
     * (sigmoid(x) - t) / N everywhere, x = 0 included.
     */
    public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor targets) {
        requireSameShape("binary_cross_entropy_with_logits", logits, targets);
        return logits.softplus().sub(logits.mul(targets)).mean();
    }

    private static void requireSameShape(String op, Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException(op + ": prediction " + a.shape() + " and target " + b.shape()
                    + " must have the same shape");
        }
    }
}
