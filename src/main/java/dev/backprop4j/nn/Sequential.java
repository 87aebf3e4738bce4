package dev.backprop4j.nn;

import dev.backprop4j.tensor.Tensor;

import java.util.List;

/** Modules applied in order; the i-th is registered as "i", so its parameters are "i.weight", "i.bias". */
public final class Sequential extends Module {
    private final List<Module> layers;

    public Sequential(Module... layers) {
        this.layers = List.of(layers);
        for (int i = 0; i < layers.length; i++) {
            addModule(Integer.toString(i), layers[i]);
        }
    }

    public List<Module> layers() {
        return layers;
    }

    /**
     * Applies the layers in order. A {@link Linear} followed by an activation layer runs as one fused op (the GEMM,
     * then bias and activation in one pass, and one pass back for both), which computes the same values as the two
     * layers one after the other. Under bf16 autocast, such a pair followed by another Linear hands it a bfloat16
     * activation, which that Linear's GEMM reads as is: the forward keeps each hidden activation once, in half the
     * memory.
     */
    @Override
    public Tensor forward(Tensor x) {
        return forward(x, layers.size());
    }

    /** The first {@code count} layers applied in order (fused as {@link #forward} fuses them). */
    Tensor forward(Tensor x, int count) {
        Tensor y = x;
        for (int i = 0; i < count; i++) {
            Module m = layers.get(i);
            if (m instanceof Linear linear && i + 1 < count
                    && layers.get(i + 1) instanceof Activation.Layer activation) {
                y = linear.forward(y, activation.kind, i + 2 < count && layers.get(i + 2) instanceof Linear);
                i++;
            } else {
                y = m.forward(y);
            }
        }
        return y;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Sequential(");
        for (int i = 0; i < layers.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(layers.get(i));
        }
        return sb.append(')').toString();
    }
}
