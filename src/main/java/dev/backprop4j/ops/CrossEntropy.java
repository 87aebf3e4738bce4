package dev.backprop4j.ops;

import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Softmax cross-entropy per row from logits [rows, classes] and int32 labels [rows]:
 * loss[r] = logsumexp(logits[r]) - logits[r, label[r]], one fused backend call that also keeps the
 * softmax probabilities p. Backward: dlogits[r] = g[r] (p[r] - onehot(label[r])). Finite for logits of
 * any size (the max is subtracted before exponentiating).
 *
 * <p>{@link #mean} and {@link #sum} reduce it in the same op: the per-row losses come out scaled (by 1 / rows for
 * the mean), one backend sum makes the scalar, and the backward is one call from the scalar gradient, where a
 * separate mean would add a reduction, an expansion and a scaling to each step.
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    /** The per-row losses [rows]. */
    public static Tensor apply(Tensor logits, Tensor labels) {
        check(logits, labels);
        return op(logits, labels, 1.0, false, "cross_entropy");
    }

    /** mean over rows of the loss, a scalar. */
    public static Tensor mean(Tensor logits, Tensor labels) {
        check(logits, labels);
        return op(logits, labels, 1.0 / logits.dim(0), true, "cross_entropy_mean");
    }

    /** sum over rows of the loss, a scalar. */
    public static Tensor sum(Tensor logits, Tensor labels) {
        check(logits, labels);
        return op(logits, labels, 1.0, true, "cross_entropy_sum");
    }

    private static void check(Tensor logits, Tensor labels) {
        OpSupport.floating("cross_entropy", logits);
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("cross_entropy: logits must be [rows, classes], got " + logits.shape());
        }
        OpSupport.intIndexOn("cross_entropy", "labels", labels, logits);
        if (labels.rank() != 1 || labels.dim(0) != logits.dim(0)) {
            throw new IllegalArgumentException("cross_entropy: labels " + labels.shape()
                    + " do not match logits " + logits.shape() + " (expected [" + logits.dim(0) + "])");
        }
    }

    /**
     * The per-row losses times {@code scale} from one fused call, summed to a scalar when {@code reduce}; the
     * backward is one fused call from the gradient, per row or the scalar's (the backend broadcasts one element).
     */
    private static Tensor op(Tensor logits, Tensor labels, double scale, boolean reduce, String name) {
        int rows = logits.dim(0);
        int classes = logits.dim(1);
        Tensor probs = OpSupport.empty(logits.shape(), logits);
        Tensor loss = OpSupport.empty(Shape.of(rows), logits);
        logits.backend().crossEntropy(logits.buffer(), labels.buffer(), rows, classes, scale, loss.buffer(),
                probs.buffer());
        Tensor out = loss;
        if (reduce) {
            out = OpSupport.empty(Shape.scalar(), logits);
            logits.backend().reduce(ReduceOp.SUM, loss.buffer(), 1, rows, 1, out.buffer());
            loss.close();
        }
        return Tape.record(name, out, g -> {
            Tensor dx = OpSupport.empty(logits.shape(), g);
            g.backend().crossEntropyBackward(probs.buffer(), labels.buffer(), g.buffer(), scale, rows, classes,
                    dx.buffer());
            return new Tensor[]{dx, null};
        }, logits, labels);
    }
}
