package dev.backprop4j.tensor;


import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Explain mode: runs backward from a scalar and draws the computation as a Graphviz DOT graph, the way
 * the lectures draw it. Each value node shows its forward value (black) and its gradient (red); each
 * backward edge is labelled "upstream x local = downstream", the chain rule at that node.
 * Render with {@code dot -Tpng graph.dot -o graph.png}.
 */
public final class Explain {
    private Explain() {
    }

    private record Edge(Tensor from, Tensor to, String op, Tensor upstream, Tensor downstream) {
    }

    /** Backpropagates from {@code output} (one element) and returns the DOT text. Consumes the graph. */
    public static String backwardToDot(Tensor output) {
        List<Tensor> order = Tape.topologicalOrder(output);
        for (Tensor t : order) {
            t.retainGrad();
        }
        List<Edge> edges = new ArrayList<>();
        Map<Tensor, String> ids = new IdentityHashMap<>();
        List<Tensor> tensors = new ArrayList<>();
        Tape.backward(output, null, false, (out, node, i, up, down) -> {
            Tensor in = node.inputs().get(i);
            edges.add(new Edge(in, out, node.op(), up, down));
            for (Tensor t : new Tensor[]{in, out}) {
                if (!ids.containsKey(t)) {
                    ids.put(t, "t" + ids.size());
                    tensors.add(t);
                }
            }
        });
        StringBuilder sb = new StringBuilder("digraph backprop {\n  rankdir=LR;\n  node [shape=record, fontname=\"Helvetica\"];\n");
        for (Tensor t : tensors) {
            String label = t.name() != null ? t.name() : t.isLeaf() ? "leaf" : t.gradFn().op();
            sb.append(String.format(Locale.ROOT, "  %s [label=\"{%s | value %s | grad %s}\"];%n",
                    ids.get(t), label, format(t), t.grad() == null ? "-" : format(t.grad())));
        }
        for (Edge e : edges) {
            sb.append(String.format(Locale.ROOT, "  %s -> %s [label=\"%s\"];%n", ids.get(e.from), ids.get(e.to), e.op));
            String chain = e.upstream.size() == 1 && e.downstream.size() == 1 && e.upstream.item() != 0
                    ? String.format(Locale.ROOT, "%s x %s = %s", num(e.upstream.item()),
                    num(e.downstream.item() / e.upstream.item()), num(e.downstream.item()))
                    : "downstream " + format(e.downstream);
            sb.append(String.format(Locale.ROOT, "  %s -> %s [color=red, fontcolor=red, style=dashed, label=\"%s\"];%n",
                    ids.get(e.to), ids.get(e.from), chain));
        }
        return sb.append("}\n").toString();
    }

    private static String format(Tensor t) {
        return t.size() == 1 ? num(t.item()) : t.shape().toString();
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }
}
