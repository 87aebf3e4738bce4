package dev.backprop4j.optim;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Updates parameters from their accumulated gradients. {@link #step()} runs outside the tape and in place, as one
 * fused backend primitive for all parameters together (so CUDA updates every parameter in one launch).
 * Parameters without a gradient ({@link Tensor#grad()} null: no backward reached them since the last
 * {@link #zeroGrad()}) are skipped, as in PyTorch. State tensors (momentum, moments) are owned here.
 *
 * <p>Weight decay applies to every parameter unless {@link #noDecay} exempts some (PyTorch's second parameter group
 * with {@code weight_decay=0}, which the deep-MLP and transformer recipes give biases and normalisation parameters):
 * then a step is two fused updates, one per group.
 *
 * <p>The learning rate and each parameter's step count live on the parameters' device, where the update kernels
 * read them, and the device counts the steps itself: a step writes nothing from the host but a learning rate that
 * changed ({@link #setLr}), so a CUDA graph that captured {@link #step()} replays it under a schedule, with Adam's
 * bias corrections moving on, and never waits.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    private double lr;
    private final Map<Tensor, Tensor[]> state = new IdentityHashMap<>();
    private final Set<Tensor> noDecay = Collections.newSetFromMap(new IdentityHashMap<>());
    /** The learning rate the device reads (float64 [1]), and what was last written there. */
    private Tensor lrOnDevice;
    private double lrWritten = Double.NaN;
    /** Each parameter's updates so far (float64 [parameters]), counted on the device. */
    private Tensor steps;

    protected Optimizer(List<Tensor> params, double lr) {
        if (params.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": no parameters to optimise");
        }
        checkLr(lr);
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

    private void checkLr(double rate) {
        if (!(rate >= 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": learning rate must be a finite number "
                    + ">= 0, got " + rate);
        }
    }

    /**
     * One update of every parameter that has a gradient, queued without waiting. Each parameter counts its own steps
     * (bias correction, first momentum step), as PyTorch does, so a parameter whose first gradient comes late starts
     * at step 1.
     *
     * @throws IllegalStateException when no parameter has a gradient (a backward was forgotten)
     */
    public final void step() {
        Tensor[] grads = new Tensor[params.size()];
        boolean any = false;
        for (int i = 0; i < grads.length; i++) {
            Tensor p = params.get(i);
            if (p.isClosed()) {
                throw new IllegalStateException(getClass().getSimpleName() + ": parameter " + p.describe()
                        + " was closed (replaced by Module.to?); build the optimizer after moving the model");
            }
            grads[i] = p.grad();
            if (grads[i] != null) {
                any = true;
                if (!stateNames().isEmpty()) {
                    state(p, stateNames().size()); // created before the update, never inside a captured one
                }
            }
        }
        if (!any) {
            throw new IllegalStateException(getClass().getSimpleName() + ".step: none of the " + params.size()
                    + " parameters has a gradient; call backward() on the loss before step() (zeroGrad() clears "
                    + "them, and a loss that does not depend on the parameters gives them none)");
        }
        deviceValues();
        Tensor[] ps = params.toArray(new Tensor[0]);
        try (GradMode.Guard off = GradMode.noGrad()) {
            if (noDecay.isEmpty()) {
                update(ps, grads, lrOnDevice, steps, true);
                return;
            }
            for (boolean decay : new boolean[] {true, false}) {
                Tensor[] group = new Tensor[grads.length];
                boolean some = false;
                for (int i = 0; i < grads.length; i++) {
                    group[i] = noDecay.contains(ps[i]) == decay ? null : grads[i];
                    some |= group[i] != null;
                }
                if (some) {
                    update(ps, group, lrOnDevice, steps, decay);
                }
            }
        }
    }

    /**
     * Exempts {@code exempt} (some of this optimizer's parameters) from weight decay, as a PyTorch parameter group
     * with {@code weight_decay=0} would; the recipes' choice is every parameter of rank 1, the biases and the
     * normalisation layers' weights: {@code noDecay(model.parameters().stream().filter(p -> p.rank() < 2).toList())}.
     */
    public Optimizer noDecay(Collection<Tensor> exempt) {
        for (Tensor p : exempt) {
            if (!params.contains(p)) {
                throw new IllegalArgumentException(getClass().getSimpleName() + ".noDecay: " + p.describe()
                        + " is not one of the " + params.size() + " parameters it optimises");
            }
        }
        noDecay.addAll(exempt);
        return this;
    }

    /** Creates the learning rate and the step counts on the device when missing, and writes a changed rate. */
    private void deviceValues() {
        if (steps == null) {
            var device = params.get(0).device();
            steps = Tensor.zeros(Shape.of(params.size()), DType.FLOAT64, device);
            lrOnDevice = Tensor.zeros(Shape.of(1), DType.FLOAT64, device);
            Scope.detach(steps);
            Scope.detach(lrOnDevice);
        }
        if (Double.compare(lr, lrWritten) != 0) {
            lrOnDevice.copyFrom(new double[] {lr});
            lrWritten = lr;
        }
    }

    /**
     * Updates params[i] in place from grads[i] (skipping those whose gradient is null), all at once, reading the
     * learning rate from {@code lr} (float64 [1]) and counting each updated parameter's step in {@code steps}
     * (float64 [params]) on the device: see {@link dev.backprop4j.ops.Updates}. With {@code decay} false, no
     * weight decay.
     */
    protected abstract void update(Tensor[] params, Tensor[] grads, Tensor lr, Tensor steps, boolean decay);

    private static boolean hasDuplicate(List<Tensor> ps) {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
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

    /**
     * Sets the learning rate (schedules call this before each step); once the optimizer has stepped, a new value is
     * copied to the device at once, without waiting (outside any CUDA graph capture).
     */
    public void setLr(double lr) {
        checkLr(lr);
        this.lr = lr;
        if (lrOnDevice != null && Double.compare(lr, lrWritten) != 0) {
            lrOnDevice.copyFrom(new double[] {lr});
            lrWritten = lr;
        }
    }

    /** The state buffers of p (zero-initialised on first use), owned by this optimizer; null for a null p. */
    protected final Tensor[] state(Tensor p, int count) {
        if (p == null) {
            return null;
        }
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
        Map<String, Long> counts = new LinkedHashMap<>();
        double[] done = steps == null ? new double[params.size()] : steps.toDoubleArray();
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
            counts.put(e.getKey(), (long) done[params.indexOf(p)]);
        }
        return new State(tensors, counts);
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
        String name = getClass().getSimpleName();
        for (Map.Entry<String, Tensor> e : mine.tensors().entrySet()) { // every check before the first copy
            Tensor from = saved.tensors().get(e.getKey());
            if (from == null) {
                throw new IllegalArgumentException(name + ": the saved state has no " + e.getKey());
            }
            if (!from.shape().equals(e.getValue().shape())) {
                throw new IllegalArgumentException(name + ": the saved " + e.getKey() + " has shape " + from.shape()
                        + ", and this optimizer's has " + e.getValue().shape());
            }
        }
        double[] counts = steps == null ? new double[params.size()] : steps.toDoubleArray();
        for (Map.Entry<String, Tensor> e : named.entrySet()) {
            Long n = saved.steps().get(e.getKey());
            if (n == null || n < 0) {
                throw new IllegalArgumentException(name + ": the saved state has no step count for " + e.getKey()
                        + (n == null ? "" : " (it has " + n + ")"));
            }
            counts[params.indexOf(e.getValue())] = n;
        }
        for (Map.Entry<String, Tensor> e : mine.tensors().entrySet()) {
            Tensor from = saved.tensors().get(e.getKey());
            if (from != e.getValue()) {
                e.getValue().copyFrom(from);
            }
        }
        deviceValues();
        steps.copyFrom(counts);
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
        if (steps != null) {
            steps.close();
            lrOnDevice.close();
            steps = null;
            lrOnDevice = null;
            lrWritten = Double.NaN;
        }
    }
}
