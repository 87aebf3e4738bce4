package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Layer normalisation over the last axis, as PyTorch's {@code F.layer_norm(x, [cols], weight, bias, eps)}: for x
 * [..., cols], each row of cols values becomes y = (x - mean) / sqrt(var + eps) gamma + beta, with the row's mean and
 * biased variance, gamma and beta [cols] (or null: 1 and 0). One backend primitive each way (one kernel per row on a
 * GPU), the mean and rstd = 1 / sqrt(var + eps) of every row kept for the backward:
 * dx = rstd (g - mean_c(g) - xhat mean_c(g xhat)) with g = dy gamma and xhat = (x - mean) rstd;
 * dgamma = sum over rows of dy xhat; dbeta = sum over rows of dy.
 */
public final class LayerNorm {
    private LayerNorm() {
    }

    /** y = layer_norm(x) over the last axis with gamma and beta [cols] (either may be null) and eps &gt; 0. */
    public static Tensor apply(Tensor x, Tensor gamma, Tensor beta, double eps) {
        OpSupport.floating("layer_norm", x);
        if (x.rank() < 1) {
            throw new IllegalArgumentException("layer_norm: input " + x.shape() + " has no axis to normalise");
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layer_norm: eps must be > 0, got " + eps);
        }
        Shape s = x.shape();
        int cols = s.dim(s.rank() - 1);
        int rows = Math.toIntExact(s.size() / Math.max(1, cols));
        for (Tensor p : new Tensor[] {gamma, beta}) {
            if (p != null) {
                OpSupport.compatible("layer_norm", x, p);
                if (p.rank() != 1 || p.dim(0) != cols) {
                    throw new IllegalArgumentException("layer_norm: " + (p == gamma ? "weight " : "bias ")
                            + p.shape() + " does not fit input " + s + " (expected [" + cols + "])");
                }
            }
        }
        Tensor y = OpSupport.empty(s, x);
        Tensor mean = OpSupport.empty(Shape.of(rows), x);
        Tensor rstd = OpSupport.empty(Shape.of(rows), x);
        x.backend().layerNorm(x.buffer(), gamma == null ? null : gamma.buffer(), beta == null ? null : beta.buffer(),
                rows, cols, eps, y.buffer(), mean.buffer(), rstd.buffer());
        Tensor result = Tape.record("layer_norm", y, g -> {
            Tensor dx = x.requiresGrad() ? OpSupport.empty(s, g) : null;
            Tensor dgamma = gamma != null && gamma.requiresGrad() ? OpSupport.empty(gamma.shape(), g) : null;
            Tensor dbeta = beta != null && beta.requiresGrad() ? OpSupport.empty(beta.shape(), g) : null;
            g.backend().layerNormBackward(x.buffer(), mean.buffer(), rstd.buffer(),
                    gamma == null ? null : gamma.buffer(), g.buffer(), rows, cols, dx == null ? null : dx.buffer(),
                    dgamma == null ? null : dgamma.buffer(), dbeta == null ? null : dbeta.buffer());
            return new Tensor[] {dx, dgamma, dbeta};
        }, x, gamma, beta);
        if (!result.requiresGrad()) { // not recorded: nothing will read them
            mean.close();
            rstd.close();
        }
        return result;
    }
}
