package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/** out = a + b (broadcast). Backward: da = g, db = g, each summed back to its operand's shape. */
public final class Add {
    private Add() {
    }

    public static Tensor apply(Tensor a, Tensor b) {
        Tensor out = OpSupport.binary("add", BinaryOp.ADD, a, b);
        return Tape.record("add", out, g -> new Tensor[]{
                OpSupport.sumTo(g, a.shape()),
                OpSupport.sumTo(g, b.shape())}, a, b);
    }
}
