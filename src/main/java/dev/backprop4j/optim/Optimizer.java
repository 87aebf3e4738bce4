package dev.backprop4j.optim;

import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Updates parameters from their accumulated gradients. {@link #step()} runs outside the tape and in
 * place, one fused backend primitive per parameter (so CUDA runs each update as one kernel).
 * Parameters without a gradient ({@link Tensor#grad()} null: no backward reached them since the last
 * {@link #zeroGrad()}) are skipped, as in PyTorch. State tensors (momentum, moments) are owned here.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    protected double lr;
    private final Map<Tensor, Tensor[]> state = new IdentityHashMap<>();
    private final Map<Tensor, long[]> paramSteps = new IdentityHashMap<>();

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

    /**
     * One update of every parameter that has a gradient. Each parameter counts its own steps (bias correction,
     * first momentum step), as PyTorch does, so a parameter whose first gradient comes late starts at step 1.
     *
     * @throws IllegalStateException when no parameter has a gradient (a backward was forgotten)
     */
    public final void step() {
        boolean any = false;
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (Tensor p : params) {
                if (p.isClosed()) {
                    throw new IllegalStateException(getClass().getSimpleName() + ": parameter " + p.describe()
                            + " was closed (replaced by Module.to?); build the optimizer after moving the model");
                }
                if (p.grad() != null) {
                    long[] n = paramSteps.computeIfAbsent(p, k -> new long[1]);
                    update(p, p.grad(), ++n[0]);
                    any = true;
                }
            }
        }
        if (!any) {
            throw new IllegalStateException(getClass().getSimpleName() + ".step: none of the " + params.size()
                    + " parameters has a gradient; call backward() on the loss before step() (zeroGrad() clears "
                    + "them, and a loss that does not depend on the parameters gives them none)");
        }
    }

    /** Updates p in place from its gradient g; {@code step} counts p's own updates from 1. */
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
