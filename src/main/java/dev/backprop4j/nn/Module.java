package dev.backprop4j.nn;

import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A layer or a model: a function of a tensor with named parameters and named sub-modules.
 * Parameter names are dotted paths in registration order ({@code "0.weight"}, {@code "2.bias"}), the
 * names PyTorch's state_dict uses for the same structure, so checkpoints line up.
 * A module owns its parameters (they never belong to a {@link Scope}); {@link #close()} frees them.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** y = f(x). */
    public abstract Tensor forward(Tensor x);

    /** Registers a parameter (a leaf that requires grad, owned by this module). */
    protected final Tensor addParameter(String name, Tensor value) {
        Scope.detach(value);
        value.requiresGrad(true).name(name);
        parameters.put(name, value);
        return value;
    }

    /**
     * Registers a buffer: state the module keeps, saves and moves with its parameters but does not train
     * (BatchNorm's running statistics), owned by this module.
     */
    protected final Tensor addBuffer(String name, Tensor value) {
        Scope.detach(value);
        value.name(name);
        buffers.put(name, value);
        return value;
    }

    /** This module's own buffer {@code name} (null if none). */
    protected final Tensor buffer(String name) {
        return buffers.get(name);
    }

    /**
     * Everything a checkpoint holds, as PyTorch's {@code state_dict()} lists it: at every level the parameters, then
     * the buffers, then each sub-module's, by dotted name.
     */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        collectState("", all);
        return Collections.unmodifiableMap(all);
    }

    private void collectState(String prefix, Map<String, Tensor> into) {
        parameters.forEach((n, t) -> into.put(prefix + n, t));
        buffers.forEach((n, t) -> into.put(prefix + n, t));
        children.forEach((n, m) -> m.collectState(prefix + n + ".", into));
    }

    /** Registers a sub-module. */
    protected final <M extends Module> M addModule(String name, M module) {
        children.put(name, module);
        return module;
    }

    /** All parameters, with dotted names, in registration order. */
    public final Map<String, Tensor> namedParameters() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        collect("", all);
        return Collections.unmodifiableMap(all);
    }

    private void collect(String prefix, Map<String, Tensor> into) {
        parameters.forEach((n, t) -> into.put(prefix + n, t));
        children.forEach((n, m) -> m.collect(prefix + n + ".", into));
    }

    /**
     * The random generators the forward draws from (dropout's), by module path ("2" for the third layer of a
     * Sequential), so a checkpoint can store their positions and a resumed run draw the same masks.
     */
    public final Map<String, Generator> namedGenerators() {
        Map<String, Generator> all = new LinkedHashMap<>();
        collectGenerators("", all);
        return Collections.unmodifiableMap(all);
    }

    private void collectGenerators(String path, Map<String, Generator> into) {
        Generator own = generator();
        if (own != null) {
            into.put(path.isEmpty() ? "." : path, own);
        }
        children.forEach((n, m) -> m.collectGenerators(path.isEmpty() ? n : path + "." + n, into));
    }

    /** The generator this module's own forward draws from, or null (the default: it draws nothing). */
    protected Generator generator() {
        return null;
    }

    public final List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Total number of parameter elements. */
    public final long parameterCount() {
        long n = 0;
        for (Tensor t : parameters()) {
            n += t.size();
        }
        return n;
    }

    /**
     * Copies {@code value} (same shape and dtype, any device) into the parameter (or buffer) at a dotted path, in
     * place: the parameter stays the same tensor, so optimizers built on it keep working (checkpoint loading).
     */
    public final void setParameter(String path, Tensor value) {
        int dot = path.indexOf('.');
        if (dot >= 0 && children.containsKey(path.substring(0, dot))) {
            children.get(path.substring(0, dot)).setParameter(path.substring(dot + 1), value);
            return;
        }
        Tensor old = parameters.containsKey(path) ? parameters.get(path) : buffers.get(path);
        if (old == null) {
            throw new IllegalArgumentException("no parameter or buffer '" + path + "' in "
                    + getClass().getSimpleName());
        }
        if (!old.shape().equals(value.shape()) || old.dtype() != value.dtype()) {
            throw new IllegalArgumentException("parameter '" + path + "' is " + old.describe() + ", cannot set it to "
                    + value.describe());
        }
        old.copyFrom(value);
    }

    /**
     * Moves every parameter and buffer to {@code device} (their gradients are dropped); returns this. The parameters
     * become new tensors and the old ones are closed: build optimizers after moving the model (as in PyTorch).
     */
    public Module to(Device device) {
        for (Map.Entry<String, Tensor> e : new ArrayList<>(parameters.entrySet())) {
            Tensor p = e.getValue();
            if (!p.device().equals(device)) {
                addParameter(e.getKey(), movedCopy(p, device));
                p.close();
            }
        }
        for (Map.Entry<String, Tensor> e : new ArrayList<>(buffers.entrySet())) {
            Tensor b = e.getValue();
            if (!b.device().equals(device)) {
                addBuffer(e.getKey(), movedCopy(b, device));
                b.close();
            }
        }
        children.values().forEach(m -> m.to(device));
        return this;
    }

    /** t's values on another device, outside the tape and any scope. */
    private static Tensor movedCopy(Tensor t, Device device) {
        try (GradMode.Guard off = GradMode.noGrad()) {
            Tensor moved = t.to(device);
            Scope.detach(moved);
            return moved;
        }
    }

    /** Training mode (dropout active); the default. */
    public Module train() {
        setTraining(true);
        return this;
    }

    /** Evaluation mode (dropout off). */
    public Module eval() {
        setTraining(false);
        return this;
    }

    private void setTraining(boolean on) {
        training = on;
        children.values().forEach(m -> m.setTraining(on));
    }

    public boolean isTraining() {
        return training;
    }

    /**
     * Whether a captured CUDA graph may replay this module's forward: true when every sub-module's may. A module that
     * draws random numbers from a host {@link Generator} in its forward must say false (a replay would repeat them);
     * {@link Dropout} draws from a counter on the device, which every replay advances.
     */
    public boolean replayable() {
        return children.values().stream().allMatch(Module::replayable);
    }

    /** Clears the gradients of all parameters. */
    public void zeroGrad() {
        parameters().forEach(Tensor::zeroGrad);
    }

    /** Frees all parameters, and what the sub-modules hold (they are closed too). */
    @Override
    public void close() {
        parameters.values().forEach(Tensor::close);
        buffers.values().forEach(Tensor::close);
        children.values().forEach(Module::close);
    }
}
