package dev.backprop4j.nn;

import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.tensor.Tensor;

/**
 * Inverted dropout: in training, y = x m / (1 - p) with m ~ Bernoulli(1 - p) drawn from a seeded
 * generator; in evaluation, y = x. Backward: dx = g m / (1 - p) (through the multiply).
 */
public final class Dropout extends Module {
    private final double p;
    private final Generator gen;

    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("Dropout: p must be in [0, 1), got " + p);
        }
        this.p = p;
        this.gen = gen;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) {
            return x;
        }
        Tensor mask = Tensor.random(gen, Distribution.BERNOULLI, 1 - p, 0, x.shape(), x.dtype(), x.device())
                .mul(1 / (1 - p));
        return x.mul(mask);
    }

    @Override
    protected Generator generator() {
        return gen;
    }

    /** Not while training with p above 0: each call draws a new mask, which a replayed graph would repeat. */
    @Override
    public boolean replayable() {
        return p == 0 || !isTraining();
    }

    @Override
    public String toString() {
        return "Dropout(" + p + ")";
    }
}
