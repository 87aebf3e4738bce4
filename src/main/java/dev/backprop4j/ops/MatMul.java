package dev.backprop4j.ops;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tape;
import dev.backprop4j.tensor.Tensor;

/**
 * Matrix product: a [m,k] @ b [k,n] = [m,n]; batched a [B,m,k] @ b [B,k,n] = [B,m,n], where a 2-D side
 * is shared by every matrix of the batch. Backward: da = g @ b^T, db = a^T @ g (summed over the batch
 * for a shared side); transposes are flags of the GEMM, never copies. A layer's x W^T + b is not built from this op
 * but is {@link Dense}: the same GEMM with W transposed by flag and the bias added in place, recorded as one
 * "linear" node, so the tape holds one node per layer instead of three. Under
 * {@link Autocast#bf16} every GEMM of it takes bfloat16 inputs (a, b and g), float32 accumulation and output; under
 * {@link Autocast#tf32} TF32-rounded ones.
 */
public final class MatMul {
    private MatMul() {
    }

    public static Tensor apply(Tensor a, Tensor b) {
        OpSupport.compatible("matmul", a, b);
        OpSupport.floating("matmul", a);
        if (a.rank() < 2 || a.rank() > 3 || b.rank() < 2 || b.rank() > 3) {
            throw new IllegalArgumentException("matmul: needs 2-D or 3-D operands, got " + a.shape() + " @ " + b.shape());
        }
        if (a.dim(-1) != b.dim(-2)) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: " + a.shape() + " @ " + b.shape());
        }
        if (a.rank() == 3 && b.rank() == 3 && a.dim(0) != b.dim(0)) {
            throw new IllegalArgumentException("matmul: batch sizes differ: " + a.shape() + " @ " + b.shape());
        }
        Autocast.Precision precision = OpSupport.gemmPrecision(a);
        boolean bf16 = precision == Autocast.Precision.BF16;
        boolean tf32 = precision == Autocast.Precision.TF32;
        Tensor ag = OpSupport.gemmInput(a, bf16);
        Tensor bg = OpSupport.gemmInput(b, bf16);
        Tensor out = product(ag, false, bg, false, tf32);
        Tensor result = Tape.record("matmul", out, g -> {
            Tensor gg = OpSupport.gemmInput(g, bf16);
            Tensor[] grads = {a.requiresGrad() ? gradA(gg, ag, bg, tf32) : null,
                b.requiresGrad() ? gradB(gg, ag, bg, tf32) : null};
            if (gg != g) {
                gg.close();
            }
            return grads;
        }, a, b);
        if (!(result.requiresGrad() && b.requiresGrad())) {
            closeCopy(ag, a); // only db reads a's copy
        }
        if (!(result.requiresGrad() && a.requiresGrad())) {
            closeCopy(bg, b); // only da reads b's copy
        }
        return result;
    }

    private static void closeCopy(Tensor copy, Tensor original) {
        if (copy != original) {
            copy.close();
        }
    }

    private static Tensor gradA(Tensor g, Tensor a, Tensor b, boolean tf32) {
        if (a.rank() == 2 && g.rank() == 3) {
            return product(g, false, b, true, tf32).sum(0);
        }
        return product(g, false, b, true, tf32);
    }

    private static Tensor gradB(Tensor g, Tensor a, Tensor b, boolean tf32) {
        if (b.rank() == 2 && a.rank() == 3) {
            // sum over the batch of a_i^T g_i = (a as [B*m, k])^T (g as [B*m, n])
            return product(a.reshape(a.dim(0) * a.dim(1), a.dim(2)), true, g.reshape(g.dim(0) * g.dim(1), g.dim(2)),
                    false, tf32);
        }
        if (b.rank() == 2 && g.rank() == 3) {
            return product(a, true, g, false, tf32).sum(0);
        }
        return product(a, true, g, false, tf32);
    }

    /**
     * op(a) @ op(b) on the stored layouts, where op transposes the last two dimensions when its flag is
     * set; a 2-D operand is shared across the other's batch (stride 0). Not recorded.
     */
    static Tensor product(Tensor a, boolean ta, Tensor b, boolean tb, boolean tf32) {
        int m = ta ? a.dim(-1) : a.dim(-2);
        int k = ta ? a.dim(-2) : a.dim(-1);
        int n = tb ? b.dim(-2) : b.dim(-1);
        int batch = a.rank() == 3 ? a.dim(0) : b.rank() == 3 ? b.dim(0) : 1;
        boolean batched = a.rank() == 3 || b.rank() == 3;
        Shape shape = batched ? Shape.of(batch, m, n) : Shape.of(m, n);
        Tensor out = OpSupport.emptyOf(shape, a.dtype() == DType.BFLOAT16 ? DType.FLOAT32 : a.dtype(), a);
        long strideA = a.rank() == 3 ? (long) m * k : 0;
        long strideB = b.rank() == 3 ? (long) k * n : 0;
        a.backend().gemm(ta, tb, batch, m, n, k, 1.0, a.buffer(), strideA, b.buffer(), strideB,
                0.0, out.buffer(), (long) m * n, tf32);
        return out;
    }
}
