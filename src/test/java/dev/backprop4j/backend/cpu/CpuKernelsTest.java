package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU fast paths (Vector API GEMM, float32 elementwise) against the reference loops. */
class CpuKernelsTest {
    private static final Generator GEN = new Generator(11);

    private static float[] randomFloats(int n) {
        return Tensor.randn(GEN, Shape.of(n), DType.FLOAT32, Device.CPU).toFloatArray();
    }

    @Test
    void splitMix64GivesTheReferenceFirstOutput() {
        // SplitMix64 reference: the first output from state 0 is 0xE220A8397B1DCDAF (Steele, Lea, Flood 2014).
        assertEquals(0xE220A8397B1DCDAFL, CpuMath.splitMix64(0, 0));
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} tA={3} tB={4}")
    @CsvSource({
            "1,1,1,false,false", "3,5,7,false,false", "17,33,65,true,false", "64,256,784,false,true",
            "100,37,300,true,true", "7,1025,3,false,false", "130,70,520,false,false", "257,129,33,true,false"})
    void vectorGemmMatchesTheScalarReference(int m, int n, int k, boolean tA, boolean tB) {
        assertTrue(CpuBackend.VECTOR_API, "tests run with jdk.incubator.vector (see surefire argLine)");
        float[] a = randomFloats(m * k);
        float[] b = randomFloats(k * n);
        float[] c0 = randomFloats(m * n);
        for (float beta : new float[]{0f, 1f, 0.5f}) {
            float[] expected = c0.clone();
            float[] actual = c0.clone();
            FloatKernels.sgemm(tA, tB, m, n, k, 0.5f, a, 0, b, 0, beta, expected, 0);
            VectorGemm.sgemm(tA, tB, m, n, k, 0.5f, a, 0, b, 0, beta, actual, 0);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 1e-4f * (1 + Math.abs(expected[i])) * Math.sqrt(k),
                        "beta " + beta + " element " + i);
            }
        }
    }

    @Test
    void float32MatmulAgreesWithFloat64() {
        Tensor a = Tensor.randn(GEN, Shape.of(3, 50, 40), DType.FLOAT64, Device.CPU);
        Tensor b = Tensor.randn(GEN, Shape.of(40, 30), DType.FLOAT64, Device.CPU);
        double[] exact = a.matmul(b).toDoubleArray();
        float[] single = a.to(DType.FLOAT32).matmul(b.to(DType.FLOAT32)).toFloatArray();
        for (int i = 0; i < exact.length; i++) {
            assertEquals(exact[i], single[i], 1e-4 * (1 + Math.abs(exact[i])));
        }
    }

    @Test
    void floatFastPathsMatchTheReferenceLoops() {
        Shape[][] cases = {
                {Shape.of(50_000), Shape.of(50_000)}, {Shape.of(300, 200), Shape.of(200)}, {Shape.of(4, 5), Shape.of(1, 5)}};
        for (Shape[] c : cases) {
            for (BinaryOp op : new BinaryOp[]{BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV}) {
                Tensor a = Tensor.randn(GEN, c[0], DType.FLOAT32, Device.CPU);
                Tensor b = Tensor.rand(GEN, c[1], DType.FLOAT32, Device.CPU).add(0.5);
                float[] fast = new float[(int) c[0].size()];
                CpuBuffer out = CpuBuffer.allocate(DType.FLOAT32, fast.length);
                CpuBackend.INSTANCE.binary(op, a.buffer(), c[0], b.buffer(), c[1], out, c[0]);
                double[] ref = new double[fast.length];
                CpuBuffer refOut = CpuBuffer.allocate(DType.FLOAT64, fast.length);
                CpuBackend.INSTANCE.binary(op, a.to(DType.FLOAT64).buffer(), c[0], b.to(DType.FLOAT64).buffer(), c[1],
                        refOut, c[0]);
                for (int i = 0; i < fast.length; i++) {
                    assertEquals((float) refOut.get(i), out.floats()[i], 1e-6f * (1 + Math.abs(out.floats()[i])));
                }
            }
        }
        Tensor x = Tensor.randn(GEN, Shape.of(70_000), DType.FLOAT32, Device.CPU);
        float[] relu = x.relu().toFloatArray();
        float[] xs = x.toFloatArray();
        for (int i = 0; i < xs.length; i++) {
            assertEquals(Math.max(xs[i], 0f), relu[i]);
        }
    }

    @Test
    void optimizerPrimitivesFollowTheirFormulas() {
        CpuBackend cpu = CpuBackend.INSTANCE;
        CpuBuffer p = CpuBuffer.allocate(DType.FLOAT64, 1);
        CpuBuffer g = CpuBuffer.allocate(DType.FLOAT64, 1);
        CpuBuffer m = CpuBuffer.allocate(DType.FLOAT64, 1);
        CpuBuffer v = CpuBuffer.allocate(DType.FLOAT64, 1);
        p.set(0, 1.0);
        g.set(0, 0.5);
        CpuBuffer lr = CpuBuffer.allocate(DType.FLOAT64, 1);
        lr.set(0, 0.1);
        CpuBuffer steps = CpuBuffer.allocate(DType.FLOAT64, 1);
        cpu.adamStep(new Buffer[] {p}, new Buffer[] {g}, new Buffer[] {m}, new Buffer[] {v}, lr, steps, 0.9, 0.999,
                1e-8, 0, false);
        assertEquals(1, steps.get(0), "the step counted");
        // first Adam step moves by lr * sign(g) (bias-corrected m/sqrt(v) = 1)
        assertEquals(0.9, p.get(0), 1e-6);
        assertEquals(0.05, m.get(0), 1e-12);
        assertEquals(0.00025, v.get(0), 1e-12);
        cpu.unary(UnaryOp.MUL_SCALAR, p, p, 2.0, 0);
        assertArrayEquals(new double[]{1.8}, cpu.readDoubles(p), 1e-6);
    }

    @Test
    void vectorActivationsMatchTheReferenceFormulas() {
        int n = 40_003;
        Tensor x32 = Tensor.randn(GEN, Shape.of(n), DType.FLOAT32, Device.CPU).mul(4.0);
        Tensor dy32 = Tensor.randn(GEN, Shape.of(n), DType.FLOAT32, Device.CPU);
        Tensor x64 = x32.to(DType.FLOAT64);
        Tensor dy64 = dy32.to(DType.FLOAT64);
        for (UnaryOp op : new UnaryOp[]{UnaryOp.LEAKY_RELU, UnaryOp.SIGMOID, UnaryOp.TANH, UnaryOp.GELU,
            UnaryOp.GELU_ERF}) {
            Tensor y32 = dev.backprop4j.ops.Pointwise.apply(op, x32, 0.1, 0);
            Tensor y64 = dev.backprop4j.ops.Pointwise.apply(op, x64, 0.1, 0);
            float[] fast = y32.toFloatArray();
            double[] ref = y64.toDoubleArray();
            for (int i = 0; i < n; i++) {
                assertEquals(ref[i], fast[i], 2e-6 * (1 + Math.abs(ref[i])), op + " forward at x=" + x32.toFloatArray()[i]);
            }
            CpuBuffer dx32 = CpuBuffer.allocate(DType.FLOAT32, n);
            CpuBuffer dx64 = CpuBuffer.allocate(DType.FLOAT64, n);
            CpuBackend.INSTANCE.unaryBackward(op, x32.buffer(), y32.buffer(), dy32.buffer(), dx32, 0.1, 0);
            CpuBackend.INSTANCE.unaryBackward(op, x64.buffer(), y64.buffer(), dy64.buffer(), dx64, 0.1, 0);
            for (int i = 0; i < n; i++) {
                assertEquals(dx64.get(i), dx32.floats()[i], 1e-5 * (1 + Math.abs(dx64.get(i))), op + " backward element " + i);
            }
        }
    }

    /**
     * Both GELUs keep their relative precision in the negative tail, where 1 + tanh u and 1 + erf x cancel: forward
     * and backward within 2e-5 of the float64 reference, relatively, from -9 to 3 (backward: plus 4e-7 within 2 of 0).
     */
    @Test
    void geluTailsKeepTheirRelativePrecision() {
        int n = 4001;
        double[] xs = new double[n];
        for (int i = 0; i < n; i++) {
            xs[i] = -9 + 12.0 * i / (n - 1);
        }
        Tensor x64 = Tensor.of(xs, n);
        Tensor x32 = x64.to(DType.FLOAT32);
        Tensor dy32 = Tensor.ones(Shape.of(n), DType.FLOAT32, Device.CPU);
        Tensor dy64 = Tensor.ones(Shape.of(n), DType.FLOAT64, Device.CPU);
        for (UnaryOp op : new UnaryOp[] {UnaryOp.GELU, UnaryOp.GELU_ERF}) {
            Tensor y32 = dev.backprop4j.ops.Pointwise.apply(op, x32, 0, 0);
            Tensor y64 = dev.backprop4j.ops.Pointwise.apply(op, x64, 0, 0);
            CpuBuffer dx32 = CpuBuffer.allocate(DType.FLOAT32, n);
            CpuBuffer dx64 = CpuBuffer.allocate(DType.FLOAT64, n);
            CpuBackend.INSTANCE.unaryBackward(op, x32.buffer(), y32.buffer(), dy32.buffer(), dx32, 0, 0);
            CpuBackend.INSTANCE.unaryBackward(op, x64.buffer(), y64.buffer(), dy64.buffer(), dx64, 0, 0);
            float[] y = y32.toFloatArray();
            double[] ref = y64.toDoubleArray();
            for (int i = 0; i < n; i++) {
                double x = x32.toFloatArray()[i];
                assertEquals(ref[i], y[i], 2e-5 * Math.abs(ref[i]) + 1e-30, op + " forward at x=" + x);
                // the derivative crosses 0 near x = -0.75: there its terms' rounding (of order 1) is what is left
                double near = Math.abs(x) < 2 ? 4e-7 : 1e-30;
                assertEquals(dx64.get(i), dx32.floats()[i], 2e-5 * Math.abs(dx64.get(i)) + near,
                        op + " backward at x=" + x);
            }
        }
    }

    @Test
    void vectorExpAndTanhStayWithinTwoUlpsToTheEndsOfTheFloatRange() {
        float[] x = new float[20_011];
        for (int i = 0; i < x.length - 11; i++) {
            x[i] = -87.3f + i * (88.7f + 87.3f) / (x.length - 12);
        }
        float[] ends = {88.5f, 88.72f, 88.73f, -87.3f, -87.4f, 0f, -0f, Float.NaN, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, 1e-30f};
        System.arraycopy(ends, 0, x, x.length - 11, 11);
        float[] e = new float[x.length];
        double sum = VectorMath.exp(x, 0, e, 0, x.length, 1f, 0f, false);
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            if (Float.isNaN(x[i]) || Float.isInfinite(want) || want < Float.MIN_NORMAL) {
                float end = Float.isNaN(x[i]) ? Float.NaN : x[i] > 0 ? Float.POSITIVE_INFINITY : 0f;
                assertEquals(end, e[i], "e^" + x[i]);
            } else {
                assertEquals(want, e[i], 2 * Math.ulp(want), "e^" + x[i]);
            }
        }
        assertTrue(Double.isNaN(sum), "the sum takes every element, the NaN included: " + sum);

        float[] u = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            u[i] = x[i] / 8;
        }
        float[] t = new float[u.length];
        float[] th = new float[u.length];
        VectorMath.exp(u, 0, t, 0, u.length, -2f, 0f, true);
        VectorMath.tanhFrom(u, 0, t, 0, th, 0, u.length);
        for (int i = 0; i < u.length; i++) {
            float want = (float) Math.tanh(u[i]);
            assertEquals(want, th[i], Float.isNaN(want) ? 0 : 2 * Math.ulp(want), "tanh " + u[i]);
        }
    }

    @Test
    void vectorSoftmaxAndCrossEntropyMatchTheReference() {
        int rows = 37;
        int classes = 1003;
        Tensor x32 = Tensor.randn(GEN, Shape.of(rows, classes), DType.FLOAT32, Device.CPU).mul(5.0);
        Tensor x64 = x32.to(DType.FLOAT64);
        int[] l = new int[rows];
        for (int i = 0; i < rows; i++) {
            l[i] = (i * 97) % classes;
        }
        Tensor labels = Tensor.of(l, rows);
        for (boolean log : new boolean[]{false, true}) {
            double[] ref = (log ? x64.logSoftmax(1) : x64.softmax(1)).toDoubleArray();
            float[] fast = (log ? x32.logSoftmax(1) : x32.softmax(1)).toFloatArray();
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], fast[i], 1e-5 * (1 + Math.abs(ref[i])), (log ? "log_softmax " : "softmax ") + i);
            }
        }
        Tensor a = x32.detach().requiresGrad(true);
        Tensor b = x64.detach().requiresGrad(true);
        Tensor la = dev.backprop4j.ops.CrossEntropy.apply(a, labels);
        Tensor lb = dev.backprop4j.ops.CrossEntropy.apply(b, labels);
        double[] lossRef = lb.toDoubleArray();
        float[] lossFast = la.toFloatArray();
        for (int i = 0; i < rows; i++) {
            assertEquals(lossRef[i], lossFast[i], 1e-4 * (1 + Math.abs(lossRef[i])), "loss row " + i);
        }
        la.sum().backward();
        lb.sum().backward();
        double[] gRef = b.grad().toDoubleArray();
        float[] gFast = a.grad().toFloatArray();
        for (int i = 0; i < gRef.length; i++) {
            assertEquals(gRef[i], gFast[i], 1e-5, "dlogits " + i);
        }
    }

    @Test
    void logSoftmaxKeepsPrecisionForLargeLogits() {
        float[] big = new float[16];
        java.util.Arrays.fill(big, 1e8f);
        float[] y = Tensor.of(big, 1, 16).logSoftmax(1).toFloatArray();
        for (float v : y) {
            assertEquals(-Math.log(16), v, 1e-6);
        }
    }
}
