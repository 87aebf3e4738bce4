package dev.backprop4j.tensor;

import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.ops.Dense;
import dev.backprop4j.ops.LayerNorm;
import dev.backprop4j.ops.Losses;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Every differentiable op against central differences in float64, on several shapes (broadcast and size-1 axes
 * included). Labels and indices are inputs too (int32, not differentiated), so CudaParityTest can move every input
 * of a case to the GPU.
 */
public class GradCheckOpsTest {
    private static final Generator GEN = new Generator(7);

    static Tensor randn(int... dims) {
        return Tensor.randn(GEN, Shape.of(dims), DType.FLOAT64, Device.CPU);
    }

    /** Values bounded away from 0 (for log, sqrt, div, abs, pow). */
    static Tensor positive(int... dims) {
        return Tensor.rand(GEN, Shape.of(dims), DType.FLOAT64, Device.CPU).add(0.5);
    }

    /** Values away from the kinks of relu, abs, clamp (|x| >= 0.1). */
    static Tensor awayFromZero(int... dims) {
        Tensor r = randn(dims);
        double[] v = r.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.copySign(Math.abs(v[i]) + 0.1, v[i]);
        }
        return Tensor.of(v, dims);
    }

    static Tensor labels(int rows, int classes) {
        int[] l = new int[rows];
        for (int i = 0; i < rows; i++) {
            l[i] = (i * 7 + 3) % classes;
        }
        return Tensor.of(l, rows);
    }

    private static Arguments c(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        return Arguments.of(name, f, inputs);
    }

    public static Stream<Arguments> cases() {
        return Stream.of(
                c("add same shape", t -> t[0].add(t[1]), randn(3, 4), randn(3, 4)),
                c("add bias [B,N]+[N]", t -> t[0].add(t[1]), randn(5, 3), randn(3)),
                c("add size-1 axes [4,1]+[1,3]", t -> t[0].add(t[1]), randn(4, 1), randn(1, 3)),
                c("add rank 3 + scalar", t -> t[0].add(t[1]), randn(2, 3, 2), randn()),
                c("sub broadcast", t -> t[0].sub(t[1]), randn(2, 3), randn(2, 1)),
                c("mul broadcast", t -> t[0].mul(t[1]), randn(2, 3, 4), randn(3, 1)),
                c("mul used twice", t -> t[0].mul(t[0]), randn(3, 2)),
                c("div broadcast", t -> t[0].div(t[1]), randn(3, 4), positive(4)),
                c("neg", t -> t[0].neg(), randn(4)),
                c("scalar forms", t -> t[0].add(2).sub(0.5).mul(3).div(4).rsub(1).rdiv(1), positive(2, 3)),
                c("pow 3", t -> t[0].pow(3), randn(3, 3)),
                c("pow -1.5", t -> t[0].pow(-1.5), positive(4)),
                c("exp", t -> t[0].exp(), randn(2, 5)),
                c("log", t -> t[0].log(), positive(2, 5)),
                c("sqrt", t -> t[0].sqrt(), positive(7)),
                c("abs", t -> t[0].abs(), awayFromZero(3, 4)),
                c("clamp", t -> t[0].clamp(-0.55, 0.45), awayFromZero(4, 4)),
                c("relu", t -> t[0].relu(), awayFromZero(3, 5)),
                c("leaky_relu", t -> t[0].leakyRelu(0.1), awayFromZero(3, 5)),
                c("sigmoid", t -> t[0].sigmoid(), randn(3, 4)),
                c("tanh", t -> t[0].tanh(), randn(3, 4)),
                c("gelu", t -> t[0].gelu(), randn(3, 4)),
                c("gelu exact", t -> t[0].geluExact(), randn(3, 4)),
                c("softplus", t -> t[0].softplus(), randn(3, 4)),
                c("matmul 2-D", t -> t[0].matmul(t[1]), randn(3, 4), randn(4, 5)),
                c("matmul 1x1", t -> t[0].matmul(t[1]), randn(1, 1), randn(1, 1)),
                c("matmul batched", t -> t[0].matmul(t[1]), randn(2, 3, 4), randn(2, 4, 2)),
                c("matmul batched @ shared", t -> t[0].matmul(t[1]), randn(2, 3, 4), randn(4, 2)),
                c("matmul shared @ batched", t -> t[0].matmul(t[1]), randn(3, 4), randn(2, 4, 2)),
                c("transpose", t -> t[0].transpose(), randn(3, 5)),
                c("transpose batched", t -> t[0].transpose(), randn(2, 3, 4)),
                c("reshape", t -> t[0].reshape(6, -1).mul(t[0].reshape(6, 2)), randn(3, 4)),
                c("sum all", t -> t[0].sum(), randn(3, 4)),
                c("sum axis", t -> t[0].sum(1), randn(3, 4, 2)),
                c("sum axes keepdim", t -> t[0].sum(new int[]{0, 2}, true), randn(3, 4, 2)),
                c("mean axis -1", t -> t[0].mean(-1), randn(3, 4)),
                c("mean all", t -> t[0].mean(), randn(2, 2, 2, 2)),
                c("max axis", t -> t[0].max(1), randn(3, 5)),
                c("max axes keepdim", t -> t[0].max(new int[]{0, 1}, true), randn(3, 4, 2)),
                c("max all", t -> t[0].max(), randn(4, 3)),
                c("softmax last", t -> t[0].softmax(-1), randn(3, 5)),
                c("softmax axis 0", t -> t[0].softmax(0), randn(4, 3)),
                c("softmax middle axis", t -> t[0].softmax(1), randn(2, 3, 4)),
                c("log_softmax", t -> t[0].logSoftmax(1), randn(3, 6)),
                c("cross entropy", t -> t[0].crossEntropy(t[1]), randn(4, 5), labels(4, 5)),
                c("cross entropy one row", t -> t[0].crossEntropy(t[1]), randn(1, 3), labels(1, 3)),
                c("gather", t -> t[0].gather(t[1]), randn(3, 4), labels(3, 4)),
                c("embedding, indices repeated", t -> dev.backprop4j.ops.Embedding.apply(t[0], t[1]), randn(4, 3),
                        Tensor.of(new int[] {1, 3, 1, 0, 1, 2}, 2, 3)),
                c("narrow rows", t -> t[0].slice(1, 3), randn(4, 3)),
                c("narrow middle axis", t -> t[0].narrow(1, 1, 2), randn(2, 4, 3)),
                c("expand", t -> t[0].expand(Shape.of(2, 3, 4)), randn(3, 1)),
                c("mse", t -> Losses.mse(t[0], t[1]), randn(4, 3), randn(4, 3)),
                c("bce with logits", t -> Losses.binaryCrossEntropyWithLogits(t[0], t[1]),
                        randn(5, 2), Tensor.rand(GEN, Shape.of(5, 2), DType.FLOAT64, Device.CPU)),
                c("two-layer MLP", t -> t[0].matmul(t[1]).add(t[2]).tanh().matmul(t[3]).crossEntropy(t[4]),
                        randn(4, 5), randn(5, 6), randn(6), randn(6, 3), labels(4, 3)),
                c("cross entropy mean", t -> Losses.crossEntropy(t[0], t[1], Losses.Reduction.MEAN),
                        randn(6, 4), labels(6, 4)),
                c("cross entropy sum", t -> Losses.crossEntropy(t[0], t[1], Losses.Reduction.SUM),
                        randn(6, 4), labels(6, 4)),
                c("cross entropy, label smoothing 0.1", t -> Losses.crossEntropy(t[0], t[1], 0.1,
                        Losses.Reduction.NONE), randn(6, 4), labels(6, 4)),
                c("cross entropy per row", t -> Losses.crossEntropy(t[0], t[1], Losses.Reduction.NONE),
                        randn(6, 4), labels(6, 4)),
                c("linear", t -> Dense.apply(t[0], t[1], t[2]), randn(5, 4), randn(3, 4), randn(3)),
                c("linear without bias", t -> Dense.apply(t[0], t[1], null), randn(5, 4), randn(3, 4)),
                c("linear_relu", t -> Dense.apply(t[0], t[1], t[2], UnaryOp.RELU, 0), randn(5, 4), randn(3, 4),
                        randn(3)),
                c("linear_leaky_relu", t -> Dense.apply(t[0], t[1], t[2], UnaryOp.LEAKY_RELU, 0.01), randn(5, 4),
                        randn(3, 4), randn(3)),
                c("linear_sigmoid", t -> Dense.apply(t[0], t[1], t[2], UnaryOp.SIGMOID, 0), randn(5, 4),
                        randn(3, 4), randn(3)),
                c("linear_tanh without bias", t -> Dense.apply(t[0], t[1], null, UnaryOp.TANH, 0), randn(5, 4),
                        randn(3, 4)),
                c("linear_gelu", t -> Dense.apply(t[0], t[1], t[2], UnaryOp.GELU, 0), randn(5, 4), randn(3, 4),
                        randn(3)),
                // weighted by a fourth input: a row of layer_norm sums to beta's sum whatever x is
                c("layer_norm", t -> LayerNorm.apply(t[0], t[1], t[2], 1e-5).mul(t[3]), randn(4, 6), randn(6),
                        randn(6), randn(4, 6)),
                c("layer_norm rank 3 without affine", t -> LayerNorm.apply(t[0], null, null, 1e-3).mul(t[1]),
                        randn(2, 3, 5), randn(2, 3, 5)),
                c("layer_norm one column", t -> LayerNorm.apply(t[0], t[1], t[2], 1e-5).mul(t[3]), randn(3, 1),
                        randn(1), randn(1), randn(3, 1)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void analyticGradientsMatchFiniteDifferences(String name, Function<Tensor[], Tensor> f, Tensor[] inputs) {
        GradCheck.check(name, f, inputs);
    }

    @org.junit.jupiter.api.Test
    void gradCheckCatchesAWrongRule() {
        // A deliberately wrong "gradient": the function's value uses x^2 but the graph only sees x * detached x.
        Tensor x = randn(3);
        AssertionErrorHolder h = new AssertionErrorHolder();
        try {
            GradCheck.check("wrong", t -> t[0].mul(t[0].detach()), x);
        } catch (AssertionError e) {
            h.error = e;
        }
        org.junit.jupiter.api.Assertions.assertNotNull(h.error, "gradcheck must notice a missing gradient path");
        org.junit.jupiter.api.Assertions.assertTrue(h.error.getMessage().contains("analytic"));
    }

    private static final class AssertionErrorHolder {
        AssertionError error;
    }

    static List<String> opNames() {
        return cases().map(a -> (String) a.get()[0]).toList();
    }
}
