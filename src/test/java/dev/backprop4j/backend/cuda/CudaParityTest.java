package dev.backprop4j.backend.cuda;

import dev.backprop4j.ScopePerTest;
import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.conformance.Conformance;
import dev.backprop4j.backend.conformance.ParityResult;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Backends;
import dev.backprop4j.tensor.GradCheck;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static dev.backprop4j.ScopePerTest.closeAfter;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CPU-vs-CUDA parity in float64 and in float32: every differentiable op forward and backward (the gradcheck cases,
 * plus sizes 1, 3, 17, 1023, 1025, broadcasts and long reductions), every primitive, a gradcheck through a 3-layer
 * MLP on the GPU,
 * a mixed CPU/GPU graph, and device memory over 200 training steps. Skipped, with the reason, without a GPU;
 * run on the CUDA emulator by every build where g++ exists (tag "gpu", see the pom).
 */
@Tag("gpu")
@ExtendWith(ScopePerTest.class)
class CudaParityTest {
    static final Device GPU = Device.cuda(0);
    private static final Generator GEN = new Generator(17);

    private static boolean reported;

    @BeforeEach
    void needsGpu() {
        if (!Cuda.isAvailable() && !reported) {
            reported = true;
            System.err.println("CudaParityTest: every test skipped: CUDA unavailable: " + Cuda.unavailableReason());
        }
        Assumptions.assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
    }

    static Tensor randn(int... dims) {
        return Tensor.randn(GEN, Shape.of(dims), DType.FLOAT64, Device.CPU);
    }

    static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * (1 + Math.abs(expected[i])), what + " element " + i);
        }
    }

    /** Runs f on CPU inputs and on their CUDA copies; compares outputs and the gradients of sum(out * w). */
    static void parity(String name, Function<Tensor[], Tensor> f, Tensor... cpuInputs) {
        Tensor[] gpuInputs = new Tensor[cpuInputs.length];
        for (int i = 0; i < cpuInputs.length; i++) {
            boolean floating = cpuInputs[i].dtype().isFloating();
            cpuInputs[i] = floating ? cpuInputs[i].detach().requiresGrad(true) : cpuInputs[i];
            gpuInputs[i] = floating ? cpuInputs[i].detach().to(GPU).requiresGrad(true) : cpuInputs[i].to(GPU);
        }
        Tensor cpuOut = f.apply(cpuInputs);
        Tensor gpuOut = f.apply(gpuInputs);
        assertEquals(GPU, gpuOut.device(), name);
        close(cpuOut.toDoubleArray(), gpuOut.toDoubleArray(), 1e-9, name + " forward");
        Tensor w = Tensor.rand(new Generator(3), cpuOut.shape(), cpuOut.dtype(), Device.CPU).add(0.5);
        if (cpuOut.requiresGrad()) {
            cpuOut.mul(w).sum().backward();
            gpuOut.mul(w.to(GPU)).sum().backward();
            for (int i = 0; i < cpuInputs.length; i++) {
                if (cpuInputs[i].grad() != null) {
                    close(cpuInputs[i].grad().toDoubleArray(), gpuInputs[i].grad().toDoubleArray(), 1e-9,
                            name + " gradient of input " + i);
                }
            }
        }
    }

    /** Unit roundoff of float32: a correctly rounded operation is off by at most this, relatively. */
    static final double U32 = 0x1p-24;

    /**
     * Float32 tolerance of element i: K units of roundoff of the element's magnitude plus the tensor's scale (sums,
     * matrix products and softmax cancel, so an element near 0 can carry the rounding of terms as large as the
     * largest element). K = 64 covers the operation chains of one op forward and backward (transcendental
     * functions within a few ulps on both sides, sums of up to ~1000 terms in different orders); a wrong kernel is
     * off by far more.
     */
    static void close32(double[] reference, double[] cpu, double[] gpu, String what) {
        assertEquals(cpu.length, gpu.length, what + ": length");
        double scale = 0;
        for (double r : reference) {
            scale = Math.max(scale, Math.abs(r));
        }
        for (int i = 0; i < cpu.length; i++) {
            double tol = 64 * U32 * (Math.abs(reference[i]) + scale);
            assertEquals(cpu[i], gpu[i], tol, what + " element " + i + " (float64 reference " + reference[i] + ")");
        }
    }

    /**
     * Float32 parity: the inputs rounded to float32, f run on the CPU and the GPU in float32 and, as the reference,
     * on the CPU in float64 from the same rounded values; outputs and the gradients of sum(out * w) compared within
     * {@link #close32}.
     */
    static void parity32(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        int n = inputs.length;
        Tensor[] ref = new Tensor[n];
        Tensor[] cpu = new Tensor[n];
        Tensor[] gpu = new Tensor[n];
        for (int i = 0; i < n; i++) {
            Tensor x = inputs[i].detach();
            boolean floating = x.dtype().isFloating();
            Tensor rounded = floating ? x.to(DType.FLOAT32) : x;
            ref[i] = floating ? rounded.to(DType.FLOAT64).requiresGrad(true) : rounded;
            cpu[i] = floating ? rounded.detach().requiresGrad(true) : rounded;
            gpu[i] = floating ? rounded.to(GPU).requiresGrad(true) : rounded.to(GPU);
        }
        Tensor refOut = f.apply(ref);
        Tensor cpuOut = f.apply(cpu);
        Tensor gpuOut = f.apply(gpu);
        assertEquals(DType.FLOAT32, gpuOut.dtype(), name);
        close32(refOut.toDoubleArray(), cpuOut.toDoubleArray(), gpuOut.toDoubleArray(), name + " forward (float32)");
        if (cpuOut.requiresGrad()) {
            Tensor w = Tensor.rand(new Generator(3), cpuOut.shape(), DType.FLOAT64, Device.CPU).add(0.5);
            refOut.mul(w).sum().backward();
            cpuOut.mul(w.to(DType.FLOAT32)).sum().backward();
            gpuOut.mul(w.to(DType.FLOAT32).to(GPU)).sum().backward();
            for (int i = 0; i < n; i++) {
                if (ref[i].grad() != null) {
                    close32(ref[i].grad().toDoubleArray(), cpu[i].grad().toDoubleArray(),
                            gpu[i].grad().toDoubleArray(), name + " gradient of input " + i + " (float32)");
                }
            }
        }
    }

    static Stream<Arguments> opCases() {
        List<Arguments> cases = new ArrayList<>(dev.backprop4j.tensor.GradCheckOpsTest.cases().toList());
        for (int n : new int[]{1, 3, 17, 1023, 1025}) {
            cases.add(Arguments.of("add bias n=" + n, (Function<Tensor[], Tensor>) t -> t[0].add(t[1]),
                    new Tensor[]{randn(3, n), randn(n)}));
            cases.add(Arguments.of("mul broadcast n=" + n, (Function<Tensor[], Tensor>) t -> t[0].mul(t[1]),
                    new Tensor[]{randn(n, 1), randn(1, 5)}));
            for (UnaryOp op : new UnaryOp[]{UnaryOp.RELU, UnaryOp.SIGMOID, UnaryOp.TANH, UnaryOp.GELU, UnaryOp.EXP}) {
                cases.add(Arguments.of(op + " n=" + n, (Function<Tensor[], Tensor>) t ->
                        dev.backprop4j.ops.Pointwise.apply(op, t[0], 0.1, 0), new Tensor[]{randn(n)}));
            }
            cases.add(Arguments.of("sum rows n=" + n, (Function<Tensor[], Tensor>) t -> t[0].sum(0), new Tensor[]{randn(n, 7)}));
            cases.add(Arguments.of("sum cols n=" + n, (Function<Tensor[], Tensor>) t -> t[0].sum(1), new Tensor[]{randn(7, n)}));
            cases.add(Arguments.of("max n=" + n, (Function<Tensor[], Tensor>) t -> t[0].max(1), new Tensor[]{randn(3, n)}));
            cases.add(Arguments.of("softmax n=" + n, (Function<Tensor[], Tensor>) t -> t[0].softmax(-1), new Tensor[]{randn(2, n)}));
            cases.add(Arguments.of("log_softmax axis 0 n=" + n, (Function<Tensor[], Tensor>) t -> t[0].logSoftmax(0),
                    new Tensor[]{randn(n, 3)}));
            cases.add(Arguments.of("matmul n=" + n, (Function<Tensor[], Tensor>) t -> t[0].matmul(t[1]),
                    new Tensor[]{randn(5, n), randn(n, 3)}));
            cases.add(Arguments.of("transpose n=" + n, (Function<Tensor[], Tensor>) t -> t[0].transpose(),
                    new Tensor[]{randn(n, 33)}));
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = (i * 5) % 7;
            }
            cases.add(Arguments.of("cross entropy rows=" + n, (Function<Tensor[], Tensor>) t -> t[0].crossEntropy(t[1]),
                    new Tensor[]{randn(n, 7), Tensor.of(labels, n)}));
        }
        // long axes with few rows or columns: the reduction is split over many blocks and finished in a second pass
        cases.add(Arguments.of("sum all n=300000", (Function<Tensor[], Tensor>) t -> t[0].sum(), new Tensor[]{randn(300_000)}));
        cases.add(Arguments.of("max all n=300000", (Function<Tensor[], Tensor>) t -> t[0].max(), new Tensor[]{randn(300_000)}));
        cases.add(Arguments.of("sum axis 0 [20000, 3]", (Function<Tensor[], Tensor>) t -> t[0].sum(0),
                new Tensor[]{randn(20_000, 3)}));
        cases.add(Arguments.of("max axis 1 [2, 50000, 40]", (Function<Tensor[], Tensor>) t -> t[0].max(1),
                new Tensor[]{randn(2, 50_000, 40)}));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("opCases")
    void everyOpMatchesTheCpuInFloat32(String name, Function<Tensor[], Tensor> f, Tensor[] inputs) {
        parity32(name, f, inputs);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("opCases")
    void everyOpMatchesTheCpuForwardAndBackward(String name, Function<Tensor[], Tensor> f, Tensor[] inputs) {
        parity(name, f, inputs);
    }

    static Stream<Arguments> sizesAndTypes() {
        List<Arguments> out = new ArrayList<>();
        for (DType t : List.of(DType.FLOAT64, DType.FLOAT32)) {
            for (int n : new int[]{1, 3, 17, 1023, 1025}) {
                out.add(Arguments.of(n, t));
            }
        }
        return out.stream();
    }

    /** CPU and GPU results of a primitive in dtype t: within 1e-12 in float64, within {@link #close32} in float32. */
    static void near(DType t, Tensor cpu, Tensor gpu, String what) {
        double[] c = cpu.toDoubleArray();
        if (t == DType.FLOAT64) {
            close(c, gpu.toDoubleArray(), 1e-12, what);
        } else {
            close32(c, c, gpu.toDoubleArray(), what + " (float32)");
        }
    }

    @ParameterizedTest(name = "n={0} {1}")
    @MethodSource("sizesAndTypes")
    void primitivesMatchTheCpu(int n, DType t) {
        Backend cpu = Backends.of(Device.CPU);
        Backend gpu = Backends.of(GPU);
        for (Distribution d : Distribution.values()) {
            Tensor a = Tensor.random(new Generator(5), d, 0.3, 1.5, Shape.of(n), t, Device.CPU);
            Tensor b = Tensor.random(new Generator(5), d, 0.3, 1.5, Shape.of(n), t, GPU);
            near(t, a, b, "random " + d);
        }
        Tensor x = randn(n).to(t);
        assertArrayEquals(x.to(DType.INT32).toIntArray(), x.to(GPU).to(DType.INT32).toIntArray(), "cast to int32");
        assertArrayEquals(x.to(DType.FLOAT32).toFloatArray(), x.to(GPU).to(DType.FLOAT32).toFloatArray(), "cast");
        Tensor m = randn(n, 4).to(t);
        assertArrayEquals(m.argmax(1).toIntArray(), m.to(GPU).argmax(1).toIntArray(), "argmax");
        Tensor full = Tensor.full(2.5, Shape.of(n), t, GPU);
        assertTrue(full.toString().contains("2.500"));
        int[] ia = new int[n];
        int[] ib = new int[n];
        for (int i = 0; i < n; i++) {
            ia[i] = i % 3;
            ib[i] = i % 2;
        }
        long expected = cpu.countEqual(Tensor.of(ia, n).buffer(), Tensor.of(ib, n).buffer(), n);
        Tensor ga = Tensor.of(ia, n).to(GPU);
        Tensor gb = Tensor.of(ib, n).to(GPU);
        assertEquals(expected, gpu.countEqual(ga.buffer(), gb.buffer(), n), "countEqual");
        for (boolean nesterov : new boolean[]{false, true}) {
            Tensor p = randn(n).to(t);
            Tensor g = randn(n).to(t);
            Tensor pc = p.copy();
            Tensor vc = Tensor.zeros(Shape.of(n), t, Device.CPU);
            Tensor pg = p.to(GPU);
            Tensor vg = vc.to(GPU);
            Tensor gg = g.to(GPU);
            Tensor lc = Tensor.full(0.1, Shape.of(1), DType.FLOAT64, Device.CPU);
            Tensor lg = lc.to(GPU);
            Tensor sc = Tensor.zeros(Shape.of(1), DType.FLOAT64, Device.CPU);
            Tensor sg = sc.to(GPU);
            for (int step = 1; step <= 2; step++) {
                cpu.sgdStep(new Buffer[] {pc.buffer()}, new Buffer[] {g.buffer()}, new Buffer[] {vc.buffer()},
                        lc.buffer(), sc.buffer(), 0.9, 0, 0.01, nesterov);
                gpu.sgdStep(new Buffer[] {pg.buffer()}, new Buffer[] {gg.buffer()}, new Buffer[] {vg.buffer()},
                        lg.buffer(), sg.buffer(), 0.9, 0, 0.01, nesterov);
            }
            near(t, pc, pg, "sgd nesterov=" + nesterov);
            assertEquals(2, sg.item(), "steps counted on the device");
        }
        for (boolean decoupled : new boolean[]{false, true}) {
            Tensor p = randn(n).to(t);
            Tensor g = randn(n).to(t);
            Tensor[] cs = {p.copy(), Tensor.zeros(Shape.of(n), t, Device.CPU), Tensor.zeros(Shape.of(n), t, Device.CPU)};
            Tensor[] gs = {p.to(GPU), cs[1].to(GPU), cs[2].to(GPU)};
            Tensor gg = g.to(GPU);
            Tensor lc = Tensor.full(1e-3, Shape.of(1), DType.FLOAT64, Device.CPU);
            Tensor lg = lc.to(GPU);
            Tensor sc = Tensor.zeros(Shape.of(1), DType.FLOAT64, Device.CPU);
            Tensor sg = sc.to(GPU);
            for (int step = 1; step <= 3; step++) {
                cpu.adamStep(new Buffer[] {cs[0].buffer()}, new Buffer[] {g.buffer()}, new Buffer[] {cs[1].buffer()},
                        new Buffer[] {cs[2].buffer()}, lc.buffer(), sc.buffer(), 0.9, 0.999, 1e-8, 0.01, decoupled);
                gpu.adamStep(new Buffer[] {gs[0].buffer()}, new Buffer[] {gg.buffer()}, new Buffer[] {gs[1].buffer()},
                        new Buffer[] {gs[2].buffer()}, lg.buffer(), sg.buffer(), 0.9, 0.999, 1e-8, 0.01, decoupled);
            }
            near(t, cs[0], gs[0], "adam decoupled=" + decoupled);
            near(t, cs[2], gs[2], "adam second moment decoupled=" + decoupled);
        }
    }

    /** The checks {@code doctor} runs, one test each: every primitive in every dtype it takes, at odd sizes. */
    @TestFactory
    java.util.stream.Stream<DynamicTest> everyPrimitivePassesItsConformanceCheck() {
        Assumptions.assumeTrue(Cuda.isAvailable(), () -> "CUDA unavailable: " + Cuda.unavailableReason());
        return Conformance.checks(Backends.of(GPU)).stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            ParityResult r = c.run();
            assertTrue(r.passed(), r.toString());
        }));
    }

    /** The kernel's x^0 gradient is 0 at x = 0 too, as the CPU's and PyTorch's. */
    @Test
    void theGradientOfPowZeroIsZeroAtZero() {
        for (DType t : new DType[] {DType.FLOAT32, DType.FLOAT64}) {
            Tensor x = Tensor.of(new double[] {0, 2, -3}, t, 3).to(GPU).requiresGrad(true);
            x.pow(0).sum().backward();
            assertArrayEquals(new double[] {0, 0, 0}, x.grad().toDoubleArray(), t.toString());
        }
    }

    @Test
    void outOfRangeLabelsFailAtTheNextReadWithTheCpuMessage() {
        Tensor logits = randn(3, 4).to(GPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> logits.crossEntropy(Tensor.of(new int[]{0, 4, 1}, 3).to(GPU)).item());
        assertEquals("cross_entropy: label 4 in row 1 is outside [0, 4)", e.getMessage());
        assertEquals(4 * 3, logits.toDoubleArray().length, "the backend stays usable");
        IllegalArgumentException emb = assertThrows(IllegalArgumentException.class,
                () -> dev.backprop4j.ops.Embedding.apply(logits, Tensor.of(new int[] {2, 0, 3, -1}, 4).to(GPU))
                        .toDoubleArray());
        assertEquals("embedding: index 3 in row 2 is outside [0, 3)", emb.getMessage(), "the first bad row, as on the cpu");
    }

    @Test
    void gradcheckThroughAThreeLayerMlpOnTheGpu() {
        Tensor x = randn(4, 6).to(GPU);
        Tensor y = Tensor.of(new int[]{0, 2, 1, 2}, 4).to(GPU);
        GradCheck.check("3-layer MLP on cuda", t -> t[0].matmul(t[1]).add(t[2]).gelu().matmul(t[3]).tanh()
                        .matmul(t[4]).crossEntropy(y),
                x, randn(6, 5).to(GPU), randn(5).to(GPU), randn(5, 4).to(GPU), randn(4, 3).to(GPU));
    }

    @Test
    void mixedGraphGradientsMatchTheAllCpuRun() {
        Tensor x = randn(8, 5);
        Tensor target = randn(8, 2);
        Sequential cpuModel = closeAfter(Mlp.of(5, 7, 2).activation(Activation.TANH).dtype(DType.FLOAT64).seed(3)
                .build());
        Sequential gpuModel = closeAfter(Mlp.of(5, 7, 2).activation(Activation.TANH).dtype(DType.FLOAT64).seed(3)
                .device(GPU).build());
        Tensor xin = x.detach().requiresGrad(true);
        Losses.mse(cpuModel.forward(xin), target).backward();
        Tensor xin2 = x.detach().requiresGrad(true);
        // data on the CPU, model on the GPU, loss back on the CPU
        Losses.mse(gpuModel.forward(xin2.to(GPU)).to(Device.CPU), target).backward();
        close(xin.grad().toDoubleArray(), xin2.grad().toDoubleArray(), 1e-10, "input gradient on the CPU");
        assertEquals(Device.CPU, xin2.grad().device());
        for (String name : cpuModel.namedParameters().keySet()) {
            Tensor g = gpuModel.namedParameters().get(name).grad();
            assertEquals(GPU, g.device());
            close(cpuModel.namedParameters().get(name).grad().toDoubleArray(), g.toDoubleArray(), 1e-10, name);
        }
    }

    /** Under bfloat16 autocast a dense layer forward and backward on the GPU equals the CPU's (float32 after). */
    @Test
    void autocastDenseLayersMatchTheCpu() {
        Generator gen = new Generator(21);
        float[][] out = new float[2][];
        float[][] dw = new float[2][];
        Device[] devices = {Device.CPU, GPU};
        Tensor x0 = Tensor.randn(gen, Shape.of(33, 20), DType.FLOAT32, Device.CPU);
        Tensor w0 = Tensor.randn(gen, Shape.of(9, 20), DType.FLOAT32, Device.CPU);
        Tensor g0 = Tensor.randn(gen, Shape.of(33, 9), DType.FLOAT32, Device.CPU);
        for (int d = 0; d < 2; d++) {
            Tensor x = x0.to(devices[d]);
            Tensor w = w0.detach().to(devices[d]).requiresGrad(true); // a leaf on each device
            Tensor y;
            try (dev.backprop4j.tensor.Autocast mixed = dev.backprop4j.tensor.Autocast.bf16()) {
                y = dev.backprop4j.ops.Dense.apply(x, w, null, dev.backprop4j.backend.UnaryOp.GELU, 0);
            }
            y.backward(g0.to(devices[d]));
            out[d] = y.toFloatArray();
            dw[d] = w.grad().toFloatArray();
        }
        for (int i = 0; i < out[0].length; i++) {
            assertEquals(out[0][i], out[1][i], 1e-5 * (1 + Math.abs(out[0][i])), "output " + i);
        }
        for (int i = 0; i < dw[0].length; i++) {
            assertEquals(dw[0][i], dw[1][i], 1e-4 * (1 + Math.abs(dw[0][i])), "dW " + i);
        }
    }

    /** A regression epoch (float targets, mean squared error, loss-only metrics) on the GPU equals the CPU's. */
    @Test
    void aRegressionEpochMatchesTheCpu() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        float[] x = new float[200 * 3];
        float[] t = new float[200];
        for (int i = 0; i < 200; i++) {
            for (int j = 0; j < 3; j++) {
                x[i * 3 + j] = (float) rnd.nextDouble(-1, 1);
            }
            t[i] = x[i * 3] - 2 * x[i * 3 + 1] * x[i * 3 + 2];
        }
        dev.backprop4j.data.Dataset data = dev.backprop4j.data.Dataset.regression(x, t, 3);
        double[][] loss = new double[2][];
        double[][] weights = new double[2][];
        Device[] devices = {Device.CPU, GPU};
        for (int d = 0; d < 2; d++) {
            Sequential model = closeAfter(Mlp.of(3, 16, 1).seed(4).device(devices[d]).build());
            try (dev.backprop4j.optim.Optimizer o = new Adam(model.parameters(), 1e-2);
                 dev.backprop4j.train.Trainer trainer = new dev.backprop4j.train.Trainer(model, o)
                         .loss(dev.backprop4j.ops.Losses::mse)) {
                var loader = new dev.backprop4j.data.DataLoader(data, 32, true, 1, false, devices[d]);
                var first = trainer.epoch(loader, 1, null);
                var second = trainer.epoch(loader, 2, null);
                assertTrue(Double.isNaN(second.accuracy()), "no accuracy for a regression");
                assertEquals(200, second.samples());
                loss[d] = new double[] {first.loss(), second.loss()};
                weights[d] = model.namedParameters().get("2.weight").to(Device.CPU).toDoubleArray();
            }
        }
        assertTrue(loss[0][1] < loss[0][0], "it learns: " + java.util.Arrays.toString(loss[0]));
        close(loss[0], loss[1], 1e-5, "epoch losses");
        close(weights[0], weights[1], 1e-4, "the output layer after two epochs");
    }

    @Test
    void trainingStepsReturnDeviceMemoryToItsLevelAfterTheFirstStep() {
        CudaBackend backend = (CudaBackend) Backends.of(GPU);
        // tensors other tests left unclosed come back through the Cleaner: take them back now, not during the steps
        CudaContext.get(0).allocator().reclaimUnreachable(2000);
        Sequential model = closeAfter(Mlp.of(64, 128, 10).seed(1).device(GPU).build());
        List<java.util.function.Supplier<dev.backprop4j.optim.Optimizer>> optimizers = List.of(
                () -> new Sgd(model.parameters(), 0.01).momentum(0.9), () -> new Adam(model.parameters(), 1e-3));
        for (var optimizer : optimizers) { // each closed after its steps, so nothing of it is left to the Cleaner
            try (dev.backprop4j.optim.Optimizer o = optimizer.get();
                 dev.backprop4j.train.Trainer trainer = new dev.backprop4j.train.Trainer(model, o)) {
                for (boolean varying : new boolean[]{false, true}) {
                    long afterFirst = -1;
                    for (int step = 0; step < 200; step++) {
                        int batch = varying ? 1 + (step * 37) % 64 : 32;
                        try (Scope s = Scope.open()) {
                            Tensor x = Tensor.randn(GEN, Shape.of(batch, 64), DType.FLOAT32, GPU);
                            int[] l = new int[batch];
                            Tensor y = Tensor.of(l, batch).to(GPU);
                            trainer.step(x, y);
                        }
                        long inUse = backend.memoryStats().bytesInUse();
                        if (step == 0) {
                            afterFirst = inUse;
                        }
                        assertTrue(inUse <= afterFirst, "step " + step + (varying ? " (varying batch)" : "") + ": "
                                + inUse + " bytes in use, " + afterFirst + " after the first step");
                    }
                    assertEquals(afterFirst, backend.memoryStats().bytesInUse(),
                            "bytes in use back to the first step's level");
                }
            }
        }
    }

    @Test
    void mixingDevicesFailsNamingBothAndNothingMovesSilently() {
        Tensor cpu = Tensor.zeros(2, 3);
        Tensor gpu = Tensor.zeros(2, 3).to(GPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.add(gpu));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("cpu") && e.getMessage().contains("cuda:0")
                && e.getMessage().contains("[2, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> gpu.matmul(Tensor.zeros(3, 2)));
    }

    @Test
    void tf32IsAnOptInWithDocumentedPrecision() {
        Tensor a = Tensor.randn(GEN, Shape.of(64, 256), DType.FLOAT32, Device.CPU);
        Tensor b = Tensor.randn(GEN, Shape.of(256, 32), DType.FLOAT32, Device.CPU);
        double[] exact = a.to(DType.FLOAT64).matmul(b.to(DType.FLOAT64)).toDoubleArray();
        double[] fp32 = a.to(GPU).matmul(b.to(GPU)).toDoubleArray();
        close(exact, fp32, 1e-5, "fp32 by default");
        CudaBlas.setTf32(true);
        try {
            double[] tf32 = a.to(GPU).matmul(b.to(GPU)).toDoubleArray();
            double worst = 0;
            for (int i = 0; i < exact.length; i++) {
                worst = Math.max(worst, Math.abs(exact[i] - tf32[i]) / 16.0);
            }
            assertTrue(worst < 1e-2, "TF32 error " + worst + " (sum of 256 products of N(0,1), scale 16)");
            // FP32 is off by ~1e-7 here; TF32 rounds each input to 10 mantissa bits (~5e-4): not applied fails this
            assertTrue(worst > 1e-5, "TF32 was asked for but the result has FP32's precision (error " + worst + ")");
        } finally {
            CudaBlas.setTf32(false);
        }
    }
}
