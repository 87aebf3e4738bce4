package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** out = a / b (broadcast). Backward: da = g / b, db = -g a / b^2 = -g out / b, summed back to each shape. */
public final class Div {
    private Div() {
    }

    public static Tensor apply(Tensor a, Tensor b) {
        Tensor out = OpSupport.binary("div", BinaryOp.DIV, a, b);
        return Tape.record("div", out, g -> {
            Tensor gOverB = g.div(b);
            return new Tensor[]{
                    a.requiresGrad() ? OpSupport.sumTo(gOverB, a.shape()) : null,
                    b.requiresGrad() ? OpSupport.sumTo(gOverB.mul(out).neg(), b.shape()) : null};
        }, a, b);
    }
}
