package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** out = a - b (broadcast). Backward: da = g, db = -g, each summed back to its operand's shape. */
public final class Sub {
    private Sub() {
    }

    public static Tensor apply(Tensor a, Tensor b) {
        Tensor out = OpSupport.binary("sub", BinaryOp.SUB, a, b);
        return Tape.record("sub", out, g -> new Tensor[]{
                OpSupport.sumTo(g, a.shape()),
                b.requiresGrad() ? OpSupport.sumTo(g.neg(), b.shape()) : null}, a, b);
    }
}
