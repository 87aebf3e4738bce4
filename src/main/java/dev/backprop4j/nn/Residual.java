package dev.backprop4j.nn;

import dev.backprop4j.tensor.Tensor;

/**
 * A residual block: y = x + body(x), for a body whose output has its input's shape (checked: the error names both
 * shapes). The body is registered as "body", so its parameters are "body.0.weight", ..., the names of the PyTorch
 * module a user would write for it ({@code self.body = nn.Sequential(...)}; {@code forward: x + self.body(x)}).
 * The gradient flows to x along both paths (the add sums them). A {@link Sequential} body ending in a {@link Linear}
 * (every {@link ResMlp} block) adds x in that layer's epilogue: the same sum, one pass over the output fewer.
 */
public final class Residual extends Module {
    private final Module body;

    public Residual(Module body) {
        this.body = addModule("body", body);
    }

    public Module body() {
        return body;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (body instanceof Sequential s && !s.layers().isEmpty()
                && s.layers().get(s.layers().size() - 1) instanceof Linear last && x.rank() == 2
                && last.outFeatures() == x.dim(1)) {
            return last.forwardPlus(s.forward(x, s.layers().size() - 1), x);
        }
        Tensor fx = body.forward(x);
        if (!fx.shape().equals(x.shape())) {
            throw new IllegalArgumentException("Residual: the body turns " + x.shape() + " into " + fx.shape()
                    + "; a residual block needs its input's shape back");
        }
        return x.add(fx);
    }

    @Override
    public String toString() {
        return "Residual(" + body + ")";
    }
}
