package dev.backprop4j.tensor;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Generator;

import java.util.Locale;
import java.util.function.Function;

/**
 * Checks analytic gradients against central finite differences, one element at a time, as PyTorch's
 * gradcheck does: for inputs x (float64, requiring grad) and a function f, the scalar
 * L = sum(f(x) * w) with fixed random weights w is differentiated by backward, and each dL/dx_i is
 * compared with (L(x_i + eps) - L(x_i - eps)) / (2 eps) within atol + rtol |numeric|.
 */
public final class GradCheck {
    public static final double EPS = 1e-6;
    public static final double ATOL = 1e-5;
    public static final double RTOL = 1e-3;

    private GradCheck() {
    }

    /**
     * Runs the check and fails with an {@link AssertionError} naming the input, element, analytic and
     * numeric values at the first mismatch.
     *
     * @param name   what is checked, for the message
     * @param f      the function of the inputs
     * @param inputs float64 tensors, whose requiresGrad is set here, and int32 tensors (labels, indices), which are
     *               passed to f unchanged and not differentiated
     */
    public static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        for (Tensor t : inputs) {
            if (t.dtype() == DType.INT32) {
                continue;
            }
            if (t.dtype() != DType.FLOAT64) {
                throw new IllegalArgumentException("gradcheck " + name + ": inputs must be float64 (or int32 labels), "
                        + "got " + t.describe());
            }
            t.requiresGrad(true);
            t.zeroGrad();
        }
        Tensor probe;
        try (GradMode.Guard off = GradMode.noGrad()) {
            probe = f.apply(inputs);
        }
        Tensor weights = Tensor.rand(new Generator(1234), probe.shape(), DType.FLOAT64, probe.device()).add(0.5);
        Tensor loss = f.apply(inputs).mul(weights).sum();
        loss.backward();
        for (int k = 0; k < inputs.length; k++) {
            Tensor x = inputs[k];
            if (x.dtype() == DType.INT32) {
                continue;
            }
            Backend backend = x.backend();
            double[] values = x.toDoubleArray();
            double[] analytic = x.grad() == null ? new double[values.length] : x.grad().toDoubleArray();
            for (int i = 0; i < values.length; i++) {
                double saved = values[i];
                values[i] = saved + EPS;
                backend.write(x.buffer(), values);
                double plus = weightedSum(f, inputs, weights);
                values[i] = saved - EPS;
                backend.write(x.buffer(), values);
                double minus = weightedSum(f, inputs, weights);
                values[i] = saved;
                backend.write(x.buffer(), values);
                double numeric = (plus - minus) / (2 * EPS);
                if (!(Math.abs(analytic[i] - numeric) <= ATOL + RTOL * Math.abs(numeric))) {
                    throw new AssertionError(String.format(Locale.ROOT,
                            "gradcheck %s: input %d %s element %d: analytic %.8g, numeric %.8g",
                            name, k, x.shape(), i, analytic[i], numeric));
                }
            }
        }
    }

    private static double weightedSum(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor weights) {
        try (GradMode.Guard off = GradMode.noGrad()) {
            return f.apply(inputs).mul(weights).sum().item();
        }
    }
}
