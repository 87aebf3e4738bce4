package dev.backprop4j.autograd;

import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * One recorded op on the tape: the op's name, its inputs, and its backward rule, which holds the values
 * the rule needs (saved inputs or outputs). The rule maps the gradient of the op's output to the
 * gradient of each input (null for inputs that need none). Backward releases the rule, and with it the
 * saved values, unless asked to retain the graph.
 */
public final class Node {

    /** The local backward rule: upstream gradient in, one downstream gradient per input out. */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor grad);
    }

    private final String op;
    private final List<Tensor> inputs;
    private Backward backward;
    private boolean released;

    Node(String op, List<Tensor> inputs, Backward backward) {
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
    }

    public String op() {
        return op;
    }

    public List<Tensor> inputs() {
        return inputs;
    }

    public boolean isReleased() {
        return released;
    }

    Backward backward() {
        return backward;
    }

    void release() {
        backward = null;
        released = true;
    }
}
