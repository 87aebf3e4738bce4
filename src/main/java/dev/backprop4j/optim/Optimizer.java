package dev.backprop4j.optim;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Updates parameters from their accumulated gradients. {@link #step()} runs outside the tape and in place, as one
 * fused backend primitive for all parameters together (so CUDA updates every parameter in one launch).
 * Parameters without a gradient ({@link Tensor#grad()} null: no backward reached them since the last
 * {@link #zeroGrad()}) are skipped, as in PyTorch. State tensors (momentum, moments) are owned here.
 *
 * <p>The learning rate and each parameter's step count live in a small device tensor ({@code hyper}: lr, then one
 * step count per updated parameter) that the update kernels read, so a step splits in two: {@link #advance()}
 * counts the step and writes those values (an asynchronous copy), {@link #update()} queues the update. A CUDA graph
 * captures {@link #update()} once and calls {@link #advance()} before each replay, so learning-rate schedules and
 * Adam's bias corrections keep working under replay.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    protected double lr;
    private final Map<Tensor, Tensor[]> state = new IdentityHashMap<>();
    private final Map<Tensor, long[]> paramSteps = new IdentityHashMap<>();
    private Tensor hyper;
    private Tensor[] active;

    protected Optimizer(List<Tensor> params, double lr) {
        if (params.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": no parameters to optimise");
        }
        if (!(lr >= 0)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": learning rate must be >= 0, got " + lr);
        }
        this.params = List.copyOf(params);
        this.lr = lr;
        if (hasDuplicate(this.params)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": a parameter is listed twice (it would "
                    + "be updated twice per step)");
        }
        for (Tensor p : this.params) {
            if (!p.device().equals(this.params.get(0).device()) || p.dtype() != this.params.get(0).dtype()) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ": parameters must share one device and "
                        + "dtype; " + p.describe() + " differs from " + this.params.get(0).describe());
            }
        }
    }

    /**
     * One update of every parameter that has a gradient: {@link #advance()} then {@link #update()}. Each parameter
     * counts its own steps (bias correction, first momentum step), as PyTorch does, so a parameter whose first
     * gradient comes late starts at step 1.
     *
     * @throws IllegalStateException when no parameter has a gradient (a backward was forgotten)
     */
    public final void step() {
        advance();
        update();
    }

    /**
     * Counts a step of every parameter that has a gradient and writes the learning rate and their step counts to
     * the device, without waiting; then {@link #update()} applies it. Use the pair instead of {@link #step()} only to
     * replay a captured update.
     *
     * @throws IllegalStateException when no parameter has a gradient (a backward was forgotten)
     */
    public final void advance() {
        List<Tensor> withGrad = new ArrayList<>();
        for (Tensor p : params) {
            if (p.isClosed()) {
                throw new IllegalStateException(getClass().getSimpleName() + ": parameter " + p.describe()
                        + " was closed (replaced by Module.to?); build the optimizer after moving the model");
            }
            if (p.grad() != null) {
                withGrad.add(p);
            }
        }
        if (withGrad.isEmpty()) {
            throw new IllegalStateException(getClass().getSimpleName() + ".step: none of the " + params.size()
                    + " parameters has a gradient; call backward() on the loss before step() (zeroGrad() clears "
                    + "them, and a loss that does not depend on the parameters gives them none)");
        }
        double[] values = new double[1 + params.size()];
        values[0] = lr;
        active = withGrad.toArray(new Tensor[0]);
        for (int i = 0; i < active.length; i++) {
            values[1 + i] = ++paramSteps.computeIfAbsent(active[i], k -> new long[1])[0];
            if (!stateNames().isEmpty()) {
                state(active[i], stateNames().size()); // created here, never inside a captured update()
            }
        }
        if (hyper == null) {
            hyper = Tensor.zeros(Shape.of(values.length), DType.FLOAT64, params.get(0).device());
            Scope.detach(hyper);
        }
        hyper.backend().write(hyper.buffer(), values);
    }

    /**
     * Queues the update counted by the last {@link #advance()}: one fused backend call for the parameters that had a
     * gradient then, from their gradients now, reading the learning rate and the steps from the device.
     */
    public final void update() {
        if (active == null) {
            throw new IllegalStateException(getClass().getSimpleName() + ".update: call advance() first");
        }
        Tensor[] grads = new Tensor[active.length];
        for (int i = 0; i < active.length; i++) {
            grads[i] = active[i].grad();
            if (grads[i] == null) {
                throw new IllegalStateException(getClass().getSimpleName() + ".update: parameter "
                        + active[i].describe() + " had a gradient at advance() but has none now");
            }
        }
        try (GradMode.Guard off = GradMode.noGrad()) {
            update(active, grads, hyper);
        }
    }

    /**
     * Updates params[i] in place from grads[i], all at once; hyper (FLOAT64, on the parameters' device) holds the
     * learning rate and then params[i]'s own step count (from 1) at 1 + i.
     */
    protected abstract void update(Tensor[] params, Tensor[] grads, Tensor hyper);

    /** The buffers of the given tensors, for the backend's fused updates. */
    protected static Buffer[] buffers(Tensor[] tensors) {
        Buffer[] out = new Buffer[tensors.length];
        for (int i = 0; i < tensors.length; i++) {
            out[i] = tensors[i] == null ? null : tensors[i].buffer();
        }
        return out;
    }

    private static boolean hasDuplicate(List<Tensor> ps) {
        java.util.Set<Tensor> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor p : ps) {
            if (!seen.add(p)) {
                return true;
            }
        }
        return false;
    }

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

    // ---- checkpoints -----------------------------------------------------------------------------------

    /**
     * The names of the state tensors kept per parameter, PyTorch's: "momentum_buffer" for SGD with momentum,
     * "exp_avg" and "exp_avg_sq" for Adam and AdamW.
     */
    protected abstract List<String> stateNames();

    /**
     * The optimizer's state for a checkpoint: each parameter's state tensors as "{name}.{state name}" (created,
     * zero, for a parameter not updated yet, so every checkpoint has the same tensors) and each parameter's step
     * count, by the parameters' names in {@code named} (a model's {@code namedParameters()}).
     */
    public final State state(Map<String, Tensor> named) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Long> steps = new LinkedHashMap<>();
        List<String> slots = stateNames();
        for (Map.Entry<String, Tensor> e : named.entrySet()) {
            Tensor p = e.getValue();
            if (!params.contains(p)) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ": " + e.getKey()
                        + " is not one of the parameters it optimises");
            }
            if (!slots.isEmpty()) {
                Tensor[] s = state(p, slots.size());
                for (int i = 0; i < slots.size(); i++) {
                    tensors.put(e.getKey() + "." + slots.get(i), s[i]);
                }
            }
            long[] n = paramSteps.get(p);
            steps.put(e.getKey(), n == null ? 0 : n[0]);
        }
        return new State(tensors, steps);
    }

    /** An optimizer's state by parameter name: state tensors ("{name}.{state name}") and step counts. */
    public record State(Map<String, Tensor> tensors, Map<String, Long> steps) {
    }

    /**
     * Restores what {@link #state} gave: copies each state tensor into this optimizer's own (shapes must match) and
     * sets each parameter's step count.
     */
    public final void restore(Map<String, Tensor> named, State saved) {
        State mine = state(named);
        for (Map.Entry<String, Tensor> e : mine.tensors().entrySet()) {
            Tensor from = saved.tensors().get(e.getKey());
            if (from == null) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ": the saved state has no "
                        + e.getKey());
            }
            if (from != e.getValue()) {
                e.getValue().copyFrom(from);
            }
        }
        for (Map.Entry<String, Tensor> e : named.entrySet()) {
            Long n = saved.steps().get(e.getKey());
            if (n == null) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ": the saved state has no step count "
                        + "for " + e.getKey());
            }
            paramSteps.computeIfAbsent(e.getValue(), k -> new long[1])[0] = n;
        }
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
        if (hyper != null) {
            hyper.close();
            hyper = null;
        }
    }
}
