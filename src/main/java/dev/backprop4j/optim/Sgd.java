package dev.backprop4j.optim;

import dev.backprop4j.ops.Updates;
import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * Stochastic gradient descent as PyTorch's torch.optim.SGD: with g = grad + weightDecay p,
 * v = momentum v + (1 - dampening) g (v = g on the first step), p -= lr (nesterov ? g + momentum v : v);
 * without momentum p -= lr g.
 */
public final class Sgd extends Optimizer {
    private double momentum;
    private double dampening;
    private double weightDecay;
    private boolean nesterov;

    public Sgd(List<Tensor> params, double lr) {
        super(params, lr);
    }

    public Sgd momentum(double m) {
        if (m < 0) {
            throw new IllegalArgumentException("Sgd: momentum must be >= 0, got " + m);
        }
        this.momentum = m;
        return this;
    }

    public Sgd dampening(double d) {
        this.dampening = d;
        return this;
    }

    public Sgd weightDecay(double wd) {
        this.weightDecay = wd;
        return this;
    }

    public Sgd nesterov(boolean on) {
        this.nesterov = on;
        return this;
    }

    @Override
    protected void update(Tensor[] ps, Tensor[] grads, Tensor lr, Tensor steps, boolean decay) {
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalStateException("Sgd: Nesterov momentum needs momentum > 0 and dampening 0");
        }
        Tensor[] velocities = null;
        if (momentum != 0) {
            velocities = new Tensor[ps.length];
            for (int i = 0; i < ps.length; i++) {
                velocities[i] = grads[i] == null ? null : state(ps[i], 1)[0];
            }
        }
        Updates.sgd(ps, grads, velocities, lr, steps, momentum, dampening, decay ? weightDecay : 0, nesterov);
    }

    @Override
    protected List<String> stateNames() {
        return momentum == 0 ? List.of() : List.of("momentum_buffer");
    }
}
