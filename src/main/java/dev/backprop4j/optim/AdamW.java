package dev.backprop4j.optim;

import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * AdamW as PyTorch's torch.optim.AdamW: decoupled weight decay p -= lr weightDecay p, then the Adam
 * update from the raw gradient. Default weight decay 0.01.
 */
public final class AdamW extends Adam {
    public AdamW(List<Tensor> params, double lr) {
        super(params, lr, true, 0.01);
    }
}
