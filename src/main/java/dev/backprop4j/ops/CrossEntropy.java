package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Softmax cross-entropy per row from logits [rows, classes] and int32 labels [rows]:
 * loss[r] = logsumexp(logits[r]) - logits[r, label[r]], one fused backend call that also keeps the
 * softmax probabilities p. Backward: dlogits[r] = g[r] (p[r] - onehot(label[r])). Finite for logits of
 * any size (the max is subtracted before exponentiating).
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    public static Tensor apply(Tensor logits, Tensor labels) {
        OpSupport.floating("cross_entropy", logits);
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("cross_entropy: logits must be [rows, classes], got " + logits.shape());
        }
        OpSupport.intIndexOn("cross_entropy", "labels", labels, logits);
        if (labels.rank() != 1 || labels.dim(0) != logits.dim(0)) {
            throw new IllegalArgumentException("cross_entropy: labels " + labels.shape()
                    + " do not match logits " + logits.shape() + " (expected [" + logits.dim(0) + "])");
        }
        int rows = logits.dim(0);
        int classes = logits.dim(1);
        Tensor loss = OpSupport.empty(Shape.of(rows), logits);
        Tensor probs = OpSupport.empty(logits.shape(), logits);
        logits.backend().crossEntropy(logits.buffer(), labels.buffer(), rows, classes, loss.buffer(), probs.buffer());
        return Tape.record("cross_entropy", loss, g -> {
            Tensor dx = OpSupport.empty(logits.shape(), g);
            g.backend().crossEntropyBackward(probs.buffer(), labels.buffer(), g.buffer(), rows, classes, dx.buffer());
            return new Tensor[]{dx, null};
        }, logits, labels);
    }
}
