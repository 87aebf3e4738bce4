package dev.backprop4j.tensor;


import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reverse-mode tape (define-by-run). Ops call {@link #record} after computing their output (the one public
 * entry: how an op outside this package defines its gradient, as PyTorch's autograd.Function does); when
 * grad mode is on and an input requires a gradient, the output gets a {@link Node} holding the op's
 * backward rule. {@link #backward} walks the recorded graph from an output in reverse topological order
 * (iteratively, so deep graphs cannot overflow the stack), applies each rule to the upstream gradient,
 * sums the contributions of a tensor used several times, and <b>accumulates</b> into the {@code grad()}
 * of leaf tensors that require gradients: a second backward adds to what is there, until
 * {@link Tensor#zeroGrad()} clears it.
 */
public final class Tape {

    /**
     * The local backward rule of one recorded op: the upstream gradient (of the op's output) in, one downstream
     * gradient per input out (null for an input that needs none). It holds the values it needs (saved inputs or
     * outputs) and is released after backward unless the graph is retained.
     */
    @FunctionalInterface
    public interface Rule {
        Tensor[] apply(Tensor grad);
    }

    /** Observes each gradient sent along an edge: op output, node, input index, upstream, downstream. */
    @FunctionalInterface
    interface EdgeListener {
        void edge(Tensor output, Node node, int input, Tensor upstream, Tensor downstream);
    }

    private Tape() {
    }

    /**
     * Records {@code op} producing {@code out} from {@code inputs} with the given backward rule, if grad
     * mode is on and any input requires a gradient; returns {@code out}.
     */
    public static Tensor record(String op, Tensor out, Rule backward, Tensor... inputs) {
        if (!GradMode.isEnabled()) {
            return out;
        }
        boolean any = false;
        for (Tensor t : inputs) {
            any |= t != null && t.requiresGrad();
        }
        if (any) {
            out.attachGradFn(new Node(op, Collections.unmodifiableList(java.util.Arrays.asList(inputs)), backward));
        }
        return out;
    }

    /**
     * Backpropagates from {@code root}. {@code seed} is the gradient of the final result with respect to
     * root; it may be null only when root has one element (seed 1). Unless {@code retainGraph}, every
     * node's saved values are released on the way and a second backward through them fails.
     */
    static void backward(Tensor root, Tensor seed, boolean retainGraph, EdgeListener listener) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: tensor " + root.describe()
                    + " does not require grad (no input of the computation had requiresGrad set)");
        }
        if (seed == null) {
            if (root.size() != 1) {
                throw new IllegalArgumentException("backward: output " + root.describe()
                        + " is not a scalar; pass a seed gradient of shape " + root.shape());
            }
            seed = Tensor.full(1.0, root.shape(), root.dtype().gradient(), root.device());
        } else if (!seed.shape().equals(root.shape()) || seed.dtype() != root.dtype().gradient()
                || !seed.device().equals(root.device())) {
            throw new IllegalArgumentException("backward: seed " + seed.describe() + " does not match output "
                    + root.describe());
        }
        try (GradMode.Guard off = GradMode.noGrad()) {
            if (root.gradFn() == null) {
                root.accumulateGrad(seed);     // d root / d root: the seed itself
                return;
            }
            List<Tensor> order = topologicalOrder(root);
            Map<Tensor, Tensor> grads = new IdentityHashMap<>();
            grads.put(root, seed);
            for (int idx = order.size() - 1; idx >= 0; idx--) {
                Tensor t = order.get(idx);
                Tensor g = grads.remove(t);
                Node node = t.gradFn();
                if (g == null) {
                    continue;
                }
                if (t.retainsGrad()) {
                    t.accumulateGrad(g);
                }
                if (node.isReleased()) {
                    throw new IllegalStateException("backward: the graph through op '" + node.op() + "' (output "
                            + t.describe() + ") was already released by an earlier backward; pass "
                            + "retainGraph=true to the first backward to run it twice");
                }
                Tensor[] down = node.backward().apply(g);
                List<Tensor> inputs = node.inputs();
                for (int i = 0; i < inputs.size(); i++) {
                    Tensor in = inputs.get(i);
                    if (in == null || !in.requiresGrad() || down[i] == null) {
                        continue;
                    }
                    checkGradient(node, in, down[i]);
                    if (listener != null) {
                        listener.edge(t, node, i, g, down[i]);
                    }
                    if (in.gradFn() == null) {
                        // a listener keeps references to what it saw: never take those over
                        in.accumulateGrad(down[i], listener == null && isFresh(down, i, g));
                    } else {
                        Tensor prev = grads.get(in);
                        grads.put(in, prev == null ? down[i] : prev.add(down[i]));
                    }
                }
                if (!retainGraph) {
                    node.release();
                }
                if (g != seed && listener == null && !forwarded(g, down, grads)) {
                    g.close(); // spent: freed now rather than with the step's scope, as PyTorch frees it
                }
            }
        }
    }

    /** Whether gradient g lives on after its node: passed down as is, or still pending for another tensor. */
    private static boolean forwarded(Tensor g, Tensor[] down, Map<Tensor, Tensor> pending) {
        for (Tensor d : down) {
            if (d == g) {
                return true;
            }
        }
        return pending.containsValue(g); // an identity map: the same tensor, not an equal one
    }

    /** Whether down[i] may become a leaf's gradient without a copy: not the upstream, not repeated, not a view. */
    private static boolean isFresh(Tensor[] down, int i, Tensor upstream) {
        if (down[i] == upstream || down[i].buffer().isShared()) {
            return false;
        }
        for (int j = 0; j < down.length; j++) {
            if (j != i && down[j] == down[i]) {
                return false;
            }
        }
        return true;
    }

    private static void checkGradient(Node node, Tensor input, Tensor grad) {
        if (!grad.shape().equals(input.shape()) || grad.dtype() != input.dtype().gradient()
                || !grad.device().equals(input.device())) {
            throw new IllegalStateException("internal error: backward of op '" + node.op() + "' gave gradient "
                    + grad.describe() + " for input " + input.describe());
        }
    }

    /** Tensors with a node reachable from root, each after all of its inputs (iterative DFS). */
    static List<Tensor> topologicalOrder(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        if (root.gradFn() == null) {
            return order;
        }
        visited.add(root);
        stack.push(new Object[]{root, 0});
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Tensor t = (Tensor) frame[0];
            int next = (Integer) frame[1];
            List<Tensor> inputs = t.gradFn().inputs();
            if (next < inputs.size()) {
                frame[1] = next + 1;
                Tensor in = inputs.get(next);
                if (in != null && in.gradFn() != null && visited.add(in)) {
                    stack.push(new Object[]{in, 0});
                }
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }

    /**
     * One recorded op on the tape: the op's name, its inputs, and its backward rule, which holds the values
     * the rule needs (saved inputs or outputs). The rule maps the gradient of the op's output to the
     * gradient of each input (null for inputs that need none). Backward releases the rule, and with it the
     * saved values, unless asked to retain the graph.
     */
    static final class Node {

        private final String op;
        private final List<Tensor> inputs;
        private Rule backward;
        private boolean released;

        Node(String op, List<Tensor> inputs, Rule backward) {
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

        Rule backward() {
            return backward;
        }

        void release() {
            backward = null;
            released = true;
        }
    }
}
