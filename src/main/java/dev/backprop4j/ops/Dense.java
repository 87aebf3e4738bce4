package dev.backprop4j.ops;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * The dense layer y = x W^T + b, with x [batch, in], W [out, in] (PyTorch's layout), b [out] or none, recorded as
 * one op named "linear" (what nn.Linear runs). It is {@link MatMul} of x and W^T followed by {@link Add} of the
 * bias, fused: one node on the tape instead of three, no transposed copy of W and no temporary for the sum.
 * Forward: one GEMM with W transposed by flag, then the bias added in place along rows.
 * Backward: dx = g W, dW = g^T x, db = column sums of g; each skipped when not needed.
 */
public final class Dense {
    private Dense() {
    }

    public static Tensor apply(Tensor x, Tensor weight, Tensor bias) {
        OpSupport.compatible("linear", x, weight);
        OpSupport.floating("linear", x);
        if (x.rank() != 2 || weight.rank() != 2 || x.dim(1) != weight.dim(1)) {
            throw new IllegalArgumentException("linear: input " + x.shape() + " does not fit weight " + weight.shape()
                    + " (expected input [batch, " + (weight.rank() == 2 ? weight.dim(1) : "in") + "])");
        }
        int batch = x.dim(0);
        int in = x.dim(1);
        int out = weight.dim(0);
        if (bias != null) {
            OpSupport.compatible("linear", x, bias);
            if (bias.rank() != 1 || bias.dim(0) != out) {
                throw new IllegalArgumentException("linear: bias " + bias.shape() + " does not fit weight "
                        + weight.shape() + " (expected [" + out + "])");
            }
        }
        Shape shape = Shape.of(batch, out);
        Tensor y = OpSupport.empty(shape, x);
        x.backend().gemm(false, true, 1, batch, out, in, 1.0, x.buffer(), 0, weight.buffer(), 0, 0.0, y.buffer(), 0);
        if (bias != null) {
            x.backend().binary(BinaryOp.ADD, y.buffer(), shape, bias.buffer(), bias.shape(), y.buffer(), shape);
        }
        return Tape.record("linear", y, g -> {
            Tensor dx = null;
            Tensor dw = null;
            Tensor db = null;
            if (x.requiresGrad()) {
                dx = OpSupport.empty(x.shape(), g);
                g.backend().gemm(false, false, 1, batch, in, out, 1.0, g.buffer(), 0, weight.buffer(), 0, 0.0,
                        dx.buffer(), 0);
            }
            if (weight.requiresGrad()) {
                dw = OpSupport.empty(weight.shape(), g);
                g.backend().gemm(true, false, 1, out, in, batch, 1.0, g.buffer(), 0, x.buffer(), 0, 0.0,
                        dw.buffer(), 0);
            }
            if (bias != null && bias.requiresGrad()) {
                db = OpSupport.empty(bias.shape(), g);
                g.backend().reduce(ReduceOp.SUM, g.buffer(), 1, batch, out, db.buffer());
            }
            return new Tensor[]{dx, dw, db};
        }, x, weight, bias);
    }
}
