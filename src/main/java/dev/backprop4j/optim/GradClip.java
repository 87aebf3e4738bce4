package dev.backprop4j.optim;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;

import java.util.List;

/** Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_. */
public final class GradClip {
    private GradClip() {
    }

    /**
     * Scales all gradients in place by min(1, maxNorm / (norm + 1e-6)), where norm = sqrt(sum of g^2 over
     * every gradient); returns the norm before clipping.
     */
    public static double clipByGlobalNorm(List<Tensor> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipByGlobalNorm: maxNorm must be > 0, got " + maxNorm);
        }
        double sumSq = 0;
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (Tensor p : params) {
                if (p.grad() != null) {
                    try (Tensor sq = p.grad().square().sum()) {
                        sumSq += sq.item();
                    }
                }
            }
            double norm = Math.sqrt(sumSq);
            double scale = maxNorm / (norm + 1e-6);
            if (scale < 1) {
                for (Tensor p : params) {
                    Tensor g = p.grad();
                    if (g != null) {
                        g.backend().unary(UnaryOp.MUL_SCALAR, g.buffer(), g.buffer(), scale, 0);
                    }
                }
            }
            return norm;
        }
    }
}
