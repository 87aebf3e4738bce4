package dev.backprop4j.optim;

import dev.backprop4j.autograd.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Updates parameters from their accumulated gradients. {@link #step()} runs outside the tape and in
 * place, one fused backend primitive per parameter (so CUDA runs each update as one kernel).
 * Parameters without a gradient are skipped. State tensors (momentum, moments) are owned here.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    protected double lr;
    private final Map<Tensor, Tensor[]> state = new IdentityHashMap<>();
    private long steps;

    protected Optimizer(List<Tensor> params, double lr) {
        if (params.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": no parameters to optimise");
        }
        if (!(lr >= 0)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": learning rate must be >= 0, got " + lr);
        }
        this.params = List.copyOf(params);
        this.lr = lr;
    }

    /** One update of every parameter that has a gradient. */
    public final void step() {
        steps++;
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (Tensor p : params) {
                if (p.grad() != null) {
                    update(p, p.grad(), steps);
                }
            }
        }
    }

    /** Updates p in place from its gradient g; {@code step} counts from 1. */
    protected abstract void update(Tensor p, Tensor g, long step);

    /** Clears the gradients of all parameters. */
    public void zeroGrad() {
        params.forEach(Tensor::zeroGrad);
    }

    public double lr() {
        return lr;
    }

    /** Sets the learning rate (schedules call this before each step). */
    public void setLr(double lr) {
        this.lr = lr;
    }

    /** Number of steps taken. */
    public long steps() {
        return steps;
    }

    /** The state buffers of p (zero-initialised on first use), owned by this optimizer. */
    protected final Tensor[] state(Tensor p, int count) {
        return state.computeIfAbsent(p, k -> {
            Tensor[] s = new Tensor[count];
            for (int i = 0; i < count; i++) {
                s[i] = Tensor.zeros(p.shape(), p.dtype(), p.device());
                Scope.detach(s[i]);
            }
            return s;
        });
    }

    /** Frees the optimizer state. */
    @Override
    public void close() {
        state.values().forEach(ts -> {
            for (Tensor t : ts) {
                t.close();
            }
        });
        state.clear();
    }
}
