package dev.backprop4j.tensor;

import java.util.List;

/**
 * One recorded op on the tape: the op's name, its inputs, and its backward rule, which holds the values
 * the rule needs (saved inputs or outputs). The rule maps the gradient of the op's output to the
 * gradient of each input (null for inputs that need none). Backward releases the rule, and with it the
 * saved values, unless asked to retain the graph.
 */
final class Node {

    private final String op;
    private final List<Tensor> inputs;
    private Tape.Rule backward;
    private boolean released;

    Node(String op, List<Tensor> inputs, Tape.Rule backward) {
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
    }

    String op() {
        return op;
    }

    List<Tensor> inputs() {
        return inputs;
    }

    boolean isReleased() {
        return released;
    }

    Tape.Rule backward() {
        return backward;
    }

    void release() {
        backward = null;
        released = true;
    }
}
