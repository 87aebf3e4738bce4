package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * bfloat16 autocast: each GEMM of a dense layer and of matmul multiplies its inputs rounded to bfloat16 and
 * accumulates in float32, forward and backward (the backward following the forward's choice outside the scope);
 * bias, activation and every gradient stay float32.
 */
class AutocastTest {
    private static final Generator GEN = new Generator(11);

    private static Tensor rounded(Tensor t) {
        return t.to(DType.BFLOAT16).to(DType.FLOAT32);
    }

    @Test
    void aDenseLayersGemmsTakeBfloat16InputsAndKeepFloat32Outputs() {
        Tensor x = Tensor.randn(GEN, Shape.of(5, 7), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor w = Tensor.randn(GEN, Shape.of(3, 7), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor b = Tensor.randn(GEN, Shape.of(3), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor g = Tensor.randn(GEN, Shape.of(5, 3), DType.FLOAT32, Device.CPU);
        Tensor y;
        try (Autocast mixed = Autocast.bf16()) {
            y = dev.backprop4j.ops.Dense.apply(x, w, b, dev.backprop4j.backend.UnaryOp.TANH, 0);
        }
        assertEquals(Autocast.Precision.FP32, Autocast.precision(), "closing restores float32");
        y.mul(g).sum().backward(); // outside the scope: the backward follows the forward

        Tensor xr = rounded(x.detach());
        Tensor wr = rounded(w.detach());
        Tensor z = xr.matmul(wr.transpose()).add(b.detach());
        assertArrayEquals(z.tanh().toFloatArray(), y.toFloatArray(), "forward: rounded inputs, float32 after");
        Tensor dz = g.mul(z.tanh().mul(z.tanh()).neg().add(1));
        float[] dzr = rounded(dz).toFloatArray();
        Tensor dzrT = Tensor.of(dzr, 5, 3);
        assertArrayEquals(dzrT.matmul(wr).toFloatArray(), x.grad().toFloatArray(), 1e-6f, "dx from rounded dz and W");
        assertArrayEquals(dzrT.transpose().matmul(xr).toFloatArray(), w.grad().toFloatArray(), 1e-6f,
                "dW from rounded dz and x, in float32");
        assertArrayEquals(dz.sum(0).toFloatArray(), b.grad().toFloatArray(), 1e-6f, "the bias gradient unrounded");
        assertFalse(java.util.Arrays.equals(xr.matmul(wr.transpose()).toFloatArray(),
                x.detach().matmul(w.detach().transpose()).toFloatArray()), "rounding changed the product");
    }

    @Test
    void matmulRoundsBothOperandsAndTheUpstreamGradient() {
        Tensor a = Tensor.randn(GEN, Shape.of(2, 4, 6), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor b = Tensor.randn(GEN, Shape.of(6, 3), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor y;
        try (Autocast mixed = Autocast.bf16()) {
            y = a.matmul(b);
        }
        Tensor g = Tensor.randn(GEN, Shape.of(2, 4, 3), DType.FLOAT32, Device.CPU);
        y.backward(g);
        assertArrayEquals(rounded(a.detach()).matmul(rounded(b.detach())).toFloatArray(), y.toFloatArray());
        assertArrayEquals(rounded(g).matmul(rounded(b.detach()).transpose()).toFloatArray(),
                a.grad().toFloatArray(), 1e-6f);
        Tensor f64 = Tensor.randn(GEN, Shape.of(3, 3), DType.FLOAT64, Device.CPU);
        try (Autocast mixed = Autocast.bf16()) {
            assertArrayEquals(f64.matmul(f64).toDoubleArray(), f64.detach().matmul(f64).toDoubleArray(), 0,
                    "float64 is left alone, as PyTorch's autocast leaves it");
        }
    }

    /** Under tf32 the GEMM inputs are rounded to 10 mantissa bits, ties away from zero; accumulation float32. */
    @Test
    void tf32RoundsTheInputsOfEveryProduct() {
        Tensor a = Tensor.randn(GEN, Shape.of(6, 9), DType.FLOAT32, Device.CPU).requiresGrad(true);
        Tensor b = Tensor.randn(GEN, Shape.of(9, 4), DType.FLOAT32, Device.CPU);
        Tensor y;
        try (Autocast t = Autocast.tf32()) {
            y = a.matmul(b);
        }
        float[] ar = dev.backprop4j.backend.Conversions.tf32(a.detach().toFloatArray());
        float[] br = dev.backprop4j.backend.Conversions.tf32(b.toFloatArray());
        assertArrayEquals(Tensor.of(ar, 6, 9).matmul(Tensor.of(br, 9, 4)).toFloatArray(), y.toFloatArray());
        assertEquals(1.0009765625f, dev.backprop4j.backend.Conversions.tf32(1.00048828125f), "a tie, away from zero");
        assertEquals(1.0f, dev.backprop4j.backend.Conversions.tf32(1.0004f));
        assertEquals(Autocast.Precision.BF16, Autocast.parse("bf16"));
    }

    /**
     * Between two dense layers of a Sequential the activation is bfloat16 (what the second layer's GEMM would have
     * rounded it to anyway), so the output and every gradient equal those of the layers run one by one with a
     * float32 activation; the gradient reaching a bfloat16 tensor is float32.
     */
    @Test
    void aHiddenActivationIsKeptInBfloat16AndChangesNoValue() {
        dev.backprop4j.nn.Sequential half = dev.backprop4j.nn.Mlp.of(6, 8, 8, 3)
                .activation(dev.backprop4j.nn.Activation.RELU).seed(4).build();
        dev.backprop4j.nn.Sequential full = dev.backprop4j.nn.Mlp.of(6, 8, 8, 3)
                .activation(dev.backprop4j.nn.Activation.RELU).seed(4).build();
        Tensor x = Tensor.randn(GEN, Shape.of(5, 6), DType.FLOAT32, Device.CPU);
        Tensor g = Tensor.randn(GEN, Shape.of(5, 3), DType.FLOAT32, Device.CPU);
        Tensor y1;
        Tensor y2;
        Tensor hidden;
        try (Autocast mixed = Autocast.bf16()) {
            y1 = half.forward(x);
            y2 = x;
            for (dev.backprop4j.nn.Module layer : full.layers()) {
                y2 = layer.forward(y2); // one by one: no fusion, float32 between layers
            }
            hidden = dev.backprop4j.ops.Dense.apply(x, half.parameters().get(0), half.parameters().get(1),
                    dev.backprop4j.backend.UnaryOp.RELU, 0, true);
        }
        assertEquals(DType.BFLOAT16, hidden.dtype());
        assertEquals(DType.FLOAT32, y1.dtype(), "the last layer's output is float32");
        assertArrayEquals(y2.toFloatArray(), y1.toFloatArray());
        y1.mul(g).sum().backward();
        y2.mul(g).sum().backward();
        for (int i = 0; i < half.parameters().size(); i++) {
            assertArrayEquals(full.parameters().get(i).grad().toFloatArray(),
                    half.parameters().get(i).grad().toFloatArray(), "gradient of parameter " + i);
        }
        Tensor seed = Tensor.ones(5, 8);
        hidden.backward(seed); // a bfloat16 output's seed gradient is float32
        assertEquals(DType.FLOAT32, half.parameters().get(0).grad().dtype());

        IllegalArgumentException outside = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> dev.backprop4j.ops.Dense.apply(hidden.detach(),
                        half.parameters().get(2), null));
        assertEquals("linear: a bfloat16 input [5, 8] bfloat16 cpu is taken as is only under Autocast.bf16() with "
                + "a float32 weight (got 'weight' [8, 8] float32 cpu); cast it with .to(DType.FLOAT32) first", outside.getMessage());
    }

    /** Casts to and from bfloat16 pass the gradient through in float32, the dtype of a bfloat16 tensor's gradient. */
    @Test
    void castsThroughBfloat16CarryAFloat32Gradient() {
        Tensor w = Tensor.of(new float[] {1.5f, -2.25f, 3f}, 3).requiresGrad(true);
        Tensor half = w.to(DType.BFLOAT16);
        Tensor back = half.to(DType.FLOAT32);
        back.mul(Tensor.of(new float[] {2f, 3f, 4f}, 3)).sum().backward();
        assertArrayEquals(new float[] {2f, 3f, 4f}, w.grad().toFloatArray());
        assertEquals(DType.FLOAT32, w.grad().dtype());
    }
}
