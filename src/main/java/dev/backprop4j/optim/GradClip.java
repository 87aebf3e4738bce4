package dev.backprop4j.optim;

import dev.backprop4j.ops.Updates;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;

import java.util.List;
import java.util.Objects;

/** Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_. */
public final class GradClip {
    private GradClip() {
    }

    /**
     * Scales all gradients in place by maxNorm / (norm + 1e-6) where that is below 1, norm = sqrt(sum of g^2 over
     * every gradient); returns the norm before clipping, a float64 scalar tensor on the gradients' device (as
     * PyTorch returns a tensor). The norm is computed and applied on the device: nothing waits, and a CUDA graph can
     * capture it. Parameters without a gradient are left out; with none at all, returns null.
     */
    public static Tensor clipByGlobalNorm(List<Tensor> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipByGlobalNorm: maxNorm must be > 0, got " + maxNorm);
        }
        Tensor[] grads = params.stream().map(Tensor::grad).filter(Objects::nonNull).toArray(Tensor[]::new);
        if (grads.length == 0) {
            return null;
        }
        try (GradMode.Guard off = GradMode.noGrad()) {
            return Updates.clipGradNorm(grads, maxNorm);
        }
    }
}
