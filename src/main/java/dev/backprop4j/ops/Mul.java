package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** out = a * b (broadcast). Backward: da = g b, db = g a, each summed back to its operand's shape. */
public final class Mul {
    private Mul() {
    }

    public static Tensor apply(Tensor a, Tensor b) {
        Tensor out = OpSupport.binary("mul", BinaryOp.MUL, a, b);
        return Tape.record("mul", out, g -> new Tensor[]{
                a.requiresGrad() ? OpSupport.sumTo(g.mul(b), a.shape()) : null,
                b.requiresGrad() ? OpSupport.sumTo(g.mul(a), b.shape()) : null}, a, b);
    }
}
