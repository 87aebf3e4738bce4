package dev.backprop4j.ops;

import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

import java.util.List;

/**
 * The tensors joined along an axis, as {@code torch.cat}: all of one dtype and device, equal in every dimension but
 * that axis. Forward: one backend {@code narrow} per part, into its place of the output. Backward: part i's gradient
 * is g's entries at its place, one {@code narrow} each.
 */
public final class Concat {
    private Concat() {
    }

    public static Tensor apply(List<Tensor> parts, int axis) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("cat: no tensors to join");
        }
        Tensor first = parts.get(0);
        Shape s = first.shape();
        int a = s.axis(axis, "cat");
        int total = 0;
        for (Tensor p : parts) {
            OpSupport.compatible("cat", first, p);
            if (p.rank() != s.rank() || !p.shape().with(a, 1).equals(s.with(a, 1))) {
                throw new IllegalArgumentException("cat: " + p.describe() + " does not fit " + first.describe()
                        + " along axis " + a + " (every other dimension must match)");
            }
            total = Math.addExact(total, p.dim(a));
        }
        int outer = s.outer(a);
        int inner = s.inner(a);
        Tensor out = OpSupport.empty(s.with(a, total), first);
        int[] starts = new int[parts.size()];
        int at = 0;
        for (int i = 0; i < parts.size(); i++) {
            Tensor p = parts.get(i);
            starts[i] = at;
            p.backend().narrow(p.buffer(), outer, p.dim(a), inner, 0, out.buffer(), total, at, p.dim(a));
            at += p.dim(a);
        }
        int all = total;
        return Tape.record("cat", out, g -> {
            Tensor[] grads = new Tensor[parts.size()];
            for (int i = 0; i < grads.length; i++) {
                int len = parts.get(i).dim(a);
                grads[i] = OpSupport.empty(parts.get(i).shape(), g);
                g.backend().narrow(g.buffer(), outer, all, inner, starts[i], grads[i].buffer(), len, 0, len);
            }
            return grads;
        }, parts.toArray(new Tensor[0]));
    }
}
