package dev.backprop4j.ops;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * The dense layer y = f(x W^T + b), with x [batch, in], W [out, in] (PyTorch's layout), b [out] or none, and f an
 * optional activation ({@link UnaryOp}, null for none), recorded as one op named "linear" (or "linear_relu",
 * "linear_gelu", ...). It is {@link MatMul} of x and W^T, {@link Add} of the bias and the activation, fused: one
 * node on the tape instead of four, no transposed copy of W, and one pass over the output after the GEMM.
 * Forward: one GEMM with W transposed by flag into z, then the backend's epilogue z += b, y = f(z) (in place where
 * the derivative can be read from y: no activation, RELU, sigmoid, tanh).
 * Backward: dz = g f'(z), with db = column sums of dz in the same pass; dx = dz W, dW = dz^T x; each skipped when
 * not needed.
 * With a residual r (a residual block's last layer, no activation): y = x W^T + b + r, recorded as "linear_residual",
 * the skip path's add in the same epilogue pass; its gradient is g itself.
 * Under {@link Autocast#bf16} the three GEMMs take x, W and dz as bfloat16 and accumulate in float32, under
 * {@link Autocast#tf32} rounded to TF32; the bias, the activation and every gradient stay float32. Under bf16
 * autocast a layer may also write y in bfloat16 ({@code halfOutput}: for a following dense layer, which takes a
 * bfloat16 x as its GEMM input as is), so that one bfloat16 copy of the activation is all the forward keeps, as
 * PyTorch's autocast keeps it: half a float32 activation's memory. The epilogue computes in float32 and rounds
 * once as it writes y; the backward reads the rounded y (RELU's mask is exact; sigmoid's and tanh's derivatives see y to
 * bfloat16's 8 bits, as PyTorch's do). The gradient of a bfloat16 x or y is float32. The bfloat16 copies of a
 * float32 x and of W are not kept for the backward, which casts them again (a pass over each, against their size in
 * memory from the forward to the backward: PyTorch keeps both copies; x and W themselves stay alive anyway, and
 * nothing writes them before the backward).
 */
public final class Dense {
    private Dense() {
    }

    /** y = x W^T + b (b may be null). */
    public static Tensor apply(Tensor x, Tensor weight, Tensor bias) {
        return apply(x, weight, bias, null, 0);
    }

    /** y = f(x W^T + b; p1) for activation f (null: none), p1 its parameter (LEAKY_RELU's slope). */
    public static Tensor apply(Tensor x, Tensor weight, Tensor bias, UnaryOp activation, double p1) {
        return apply(x, weight, bias, activation, p1, null, false);
    }

    /**
     * {@link #apply(Tensor, Tensor, Tensor, UnaryOp, double)}, with y in bfloat16 under {@link Autocast#bf16} when
     * {@code halfOutput} (for a following dense layer; outside bf16 autocast y is float32 as ever).
     */
    public static Tensor apply(Tensor x, Tensor weight, Tensor bias, UnaryOp activation, double p1,
                               boolean halfOutput) {
        return apply(x, weight, bias, activation, p1, null, halfOutput);
    }

    /** y = x W^T + b + residual, for residual [batch, out]: a residual block's last layer with its skip path. */
    public static Tensor withResidual(Tensor x, Tensor weight, Tensor bias, Tensor residual) {
        return apply(x, weight, bias, null, 0, residual, false);
    }

    private static Tensor apply(Tensor x, Tensor weight, Tensor bias, UnaryOp activation, double p1, Tensor residual,
                                boolean halfOutput) {
        if (x.dtype() == DType.BFLOAT16) { // autocast's activation from a layer before
            OpSupport.open("linear", x);
            if (Autocast.precision() != Autocast.Precision.BF16 || weight.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("linear: a bfloat16 input " + x.describe() + " is taken as is "
                        + "only under Autocast.bf16() with a float32 weight (got " + weight.describe() + "); cast it "
                        + "with .to(DType.FLOAT32) first");
            }
            if (!x.device().equals(weight.device())) {
                throw new IllegalArgumentException("linear: tensors on different devices: " + x.describe() + " and "
                        + weight.describe() + " (move one with .to(device))");
            }
        } else {
            OpSupport.compatible("linear", x, weight);
        }
        OpSupport.floating("linear", weight);
        if (x.rank() != 2 || weight.rank() != 2 || x.dim(1) != weight.dim(1)) {
            throw new IllegalArgumentException("linear: input " + x.shape() + " does not fit weight " + weight.shape()
                    + " (expected input [batch, " + (weight.rank() == 2 ? weight.dim(1) : "in") + "])");
        }
        int batch = x.dim(0);
        int in = x.dim(1);
        int out = weight.dim(0);
        if (bias != null) {
            OpSupport.compatible("linear", weight, bias);
            if (bias.rank() != 1 || bias.dim(0) != out) {
                throw new IllegalArgumentException("linear: bias " + bias.shape() + " does not fit weight "
                        + weight.shape() + " (expected [" + out + "])");
            }
        }
        Shape shape = Shape.of(batch, out);
        if (residual != null) {
            OpSupport.compatible("linear", weight, residual);
            if (!residual.shape().equals(shape)) {
                throw new IllegalArgumentException("linear: residual " + residual.shape() + " does not fit the output "
                        + shape + " of input " + x.shape() + " and weight " + weight.shape());
            }
        }
        Autocast.Precision precision = OpSupport.gemmPrecision(weight);
        boolean bf16 = precision == Autocast.Precision.BF16;
        boolean tf32 = precision == Autocast.Precision.TF32;
        Tensor xg = OpSupport.gemmInput(x, bf16);
        Tensor wg = OpSupport.gemmInput(weight, bf16);
        Tensor z = OpSupport.empty(shape, weight);
        x.backend().gemm(false, true, 1, batch, out, in, 1.0, xg.buffer(), 0, wg.buffer(), 0, 0.0, z.buffer(), 0,
                tf32);
        // keep z only where the derivative needs the input and cannot read it from y (RELU can: y > 0 iff z > 0)
        boolean keepZ = activation != null && activation.derivativeNeedsInput() && activation != UnaryOp.RELU;
        boolean half = bf16 && halfOutput; // the epilogue rounds y once to bfloat16
        Tensor y = half ? OpSupport.emptyOf(shape, DType.BFLOAT16, z) : keepZ ? OpSupport.empty(shape, z) : z;
        if (bias != null || activation != null || residual != null || half) {
            x.backend().biasActivation(activation, z.buffer(), bias == null ? null : bias.buffer(),
                    residual == null ? null : residual.buffer(), batch, out, p1, 0, y.buffer());
        }
        if (half && !keepZ) {
            z.close(); // the bfloat16 y is all the backward reads
        }
        Tensor saved = keepZ ? z : null;
        String op = residual != null ? "linear_residual" : activation == null ? "linear" : "linear_" + activation.opName();
        Tensor result = Tape.record(op, y, g -> {
            Tensor dz = g;
            Tensor db = bias != null && bias.requiresGrad() ? OpSupport.empty(bias.shape(), g) : null;
            if (activation != null) {
                dz = OpSupport.empty(shape, g);
            }
            if (activation != null || db != null) {
                g.backend().biasActivationBackward(activation, saved == null ? null : saved.buffer(),
                        activation == null ? null : y.buffer(), g.buffer(), batch, out, p1, 0,
                        activation == null ? null : dz.buffer(), db == null ? null : db.buffer());
            }
            Tensor dx = null;
            Tensor dw = null;
            Tensor dzg = x.requiresGrad() || weight.requiresGrad() ? OpSupport.gemmInput(dz, bf16) : dz;
            if (x.requiresGrad()) {
                dx = OpSupport.empty(x.shape(), g);
                Tensor wAgain = OpSupport.gemmInput(weight, bf16); // cast again: a copy kept would cost memory
                g.backend().gemm(false, false, 1, batch, in, out, 1.0, dzg.buffer(), 0, wAgain.buffer(), 0, 0.0,
                        dx.buffer(), 0, tf32);
                if (wAgain != weight) {
                    wAgain.close();
                }
            }
            if (weight.requiresGrad()) {
                dw = OpSupport.empty(weight.shape(), g);
                Tensor xAgain = OpSupport.gemmInput(x, bf16); // x itself when it is bfloat16 already
                g.backend().gemm(true, false, 1, out, in, batch, 1.0, dzg.buffer(), 0, xAgain.buffer(), 0, 0.0,
                        dw.buffer(), 0, tf32);
                if (xAgain != x) {
                    xAgain.close();
                }
            }
            if (dzg != dz) {
                dzg.close();
            }
            if (dz != g) {
                dz.close();
            }
            return residual == null ? new Tensor[]{dx, dw, db} : new Tensor[]{dx, dw, db, g};
        }, residual == null ? new Tensor[]{x, weight, bias} : new Tensor[]{x, weight, bias, residual});
        boolean recorded = result.requiresGrad();
        if (keepZ && !recorded) {
            z.close(); // not recorded: nothing will read it
        }
        if (xg != x) {
            xg.close(); // the backward casts x again: x itself stays alive for it anyway
        }
        if (wg != weight) {
            wg.close(); // the backward casts W again (the weights do not change before it runs)
        }
        return result;
    }
}
