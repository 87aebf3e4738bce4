package dev.backprop4j.cli;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.ops.Pointwise;
import dev.backprop4j.optim.AdamW;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Our half of the GPU comparison ({@link GpuBenchCommand}), the same rows as torch_gpu_bench.py: sgemm in FP32 and
 * TF32, a device-to-device copy and each activation's forward and backward (for bandwidth), and the SGD training
 * step of the wide model (4096 x 4 hidden ReLU layers, batch 4096) and of the MNIST model (784-256-128-10, batch 64),
 * eager and replayed as a CUDA graph, with the peak device memory a step adds (for a graph: the step that captures it,
 * whose allocations become the graph's private memory); then mixed precision: the GEMM 4096 x 4096 x k for k = 256,
 * 1024, 4096 in fp32, tf32 and bf16 (autocast's matmul: its two casts included, as in PyTorch's autocast), and the
 * AdamW step of a large MLP (8 hidden layers of 4096, batch 4096) in each of the three, with its peak memory. Times are wall-clock means over
 * repeated runs between two synchronisations, as PyTorch's half measures them. {@code quick}: small sizes.
 */
final class GpuBench {

    /** One row: milliseconds per run, and the peak bytes a training step adds (0 when not measured). */
    record Row(double ms, long peakBytes) {
    }

    private final Device device;
    private final boolean quick;
    private final double seconds;
    private final Map<String, Row> rows = new LinkedHashMap<>();

    GpuBench(Device device, boolean quick) {
        this.device = device;
        this.quick = quick;
        this.seconds = quick ? 0.05 : 1.0;
    }

    /** Runs every row. */
    Map<String, Row> run() {
        try (GradMode.Guard off = GradMode.noGrad()) {
            for (int n : quick ? new int[] {256, 512} : new int[] {2048, 4096, 8192}) {
                sgemm(n);
            }
            bandwidth(quick ? 1 << 16 : 1 << 26);
        }
        int wide = quick ? 256 : 4096;
        steps("wide", new int[] {wide, wide, wide, wide, wide, 10}, quick ? 256 : 4096);
        steps("mnist", new int[] {784, 256, 128, 10}, 64);
        int m = quick ? 256 : 4096;
        for (int k : quick ? new int[] {64, 256} : new int[] {256, 1024, 4096}) {
            mixedGemm(m, k);
        }
        int[] large = new int[quick ? 5 : 10]; // input, hidden layers, classes
        java.util.Arrays.fill(large, quick ? 256 : 4096);
        large[large.length - 1] = 10;
        for (String precision : precisions()) {
            largeStep(large, quick ? 256 : 4096, precision);
        }
        return rows;
    }

    /** Mean milliseconds per call: warm-up calls, then enough calls for about {@link #seconds}. */
    private double timed(Runnable fn, Backend b) {
        for (int i = 0; i < 3; i++) {
            fn.run();
        }
        b.synchronize();
        long start = System.nanoTime();
        fn.run();
        b.synchronize();
        double once = Math.max((System.nanoTime() - start) / 1e9, 1e-6);
        int reps = (int) Math.max(3, Math.min(1000, seconds / once));
        start = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            fn.run();
        }
        b.synchronize();
        return (System.nanoTime() - start) / 1e6 / reps;
    }

    private void sgemm(int n) {
        Generator gen = new Generator(1);
        try (Tensor a = Tensor.randn(gen, Shape.of(n, n), DType.FLOAT32, device);
             Tensor b = Tensor.randn(gen, Shape.of(n, n), DType.FLOAT32, device)) {
            boolean was = device.isCuda() && Cuda.tf32();
            for (boolean tf32 : device.isCuda() ? new boolean[] {false, true} : new boolean[] {false}) {
                if (device.isCuda()) {
                    Cuda.setTf32(tf32);
                }
                rows.put("sgemm " + n + (tf32 ? " tf32" : " fp32"), new Row(timed(() -> a.matmul(b).close(),
                        a.backend()), 0));
            }
            if (device.isCuda()) {
                Cuda.setTf32(was);
            }
        }
    }

    /** [m, k] @ [k, m] in each precision (key "gemm MxMxK fp32|tf32|bf16"). */
    private void mixedGemm(int m, int k) {
        Generator gen = new Generator(4);
        try (GradMode.Guard off = GradMode.noGrad();
             Tensor a = Tensor.randn(gen, Shape.of(m, k), DType.FLOAT32, device);
             Tensor b = Tensor.randn(gen, Shape.of(k, m), DType.FLOAT32, device)) {
            for (String precision : precisions()) {
                try (Autocast mixed = Autocast.of(Autocast.parse(precision))) {
                    rows.put("gemm " + m + "x" + m + "x" + k + " " + precision,
                            new Row(timed(() -> a.matmul(b).close(), a.backend()), 0));
                }
            }
        }
    }

    /** The precisions compared: tf32 on a GPU only (PyTorch's CPU build ignores allow_tf32). */
    private String[] precisions() {
        return device.isCuda() ? new String[] {"fp32", "tf32", "bf16"} : new String[] {"fp32", "bf16"};
    }

    /** The AdamW training step of an MLP in one precision, eager, with the peak memory it adds (key "step large P"). */
    private void largeStep(int[] sizes, int batch, String precision) {
        try (Sequential model = Mlp.of(sizes).activation(Activation.RELU).seed(1).device(device).build();
             AdamW adamw = new AdamW(model.parameters(), 1e-3);
             Tensor x = Tensor.randn(new Generator(3), Shape.of(batch, sizes[0]), DType.FLOAT32, device);
             Tensor y = labels(batch, sizes[sizes.length - 1]);
             Trainer trainer = new Trainer(model, adamw).precision(Autocast.parse(precision))) {
            rows.put("step large " + precision, measuredStep(trainer, x, y));
        }
    }

    /** A steady step's peak added memory (on a GPU) and mean time, after one step that allocates the state. */
    private Row measuredStep(Trainer trainer, Tensor x, Tensor y) {
        Backend b = x.backend();
        trainer.submit(x, y); // the first step of a shape allocates the gradients and optimizer state
        long peak = 0;
        if (device.isCuda()) {
            b.synchronize();
            Cuda.resetPeakMemory(device.index());
            long base = Cuda.memoryStats(device.index()).bytesInUse();
            trainer.submit(x, y);
            b.synchronize();
            peak = Cuda.memoryStats(device.index()).peakBytesInUse() - base;
        }
        return new Row(timed(() -> trainer.submit(x, y), b), peak);
    }

    private void bandwidth(int n) {
        Generator gen = new Generator(2);
        try (Tensor x = Tensor.randn(gen, Shape.of(n), DType.FLOAT32, device);
             Tensor dy = Tensor.randn(gen, Shape.of(n), DType.FLOAT32, device);
             Tensor y = Tensor.empty(Shape.of(n), DType.FLOAT32, device);
             Tensor dx = Tensor.empty(Shape.of(n), DType.FLOAT32, device)) {
            Backend b = x.backend();
            rows.put("copy " + n, new Row(timed(() -> y.copyFrom(x), b), 0));
            for (UnaryOp op : new UnaryOp[] {UnaryOp.RELU, UnaryOp.LEAKY_RELU, UnaryOp.SIGMOID, UnaryOp.TANH,
                UnaryOp.GELU}) {
                double p1 = op == UnaryOp.LEAKY_RELU ? 0.01 : 0;
                rows.put("activation " + op.opName() + " forward " + n,
                        new Row(timed(() -> Pointwise.into(op, x, y, p1, 0), b), 0));
                Pointwise.into(op, x, y, p1, 0);
                rows.put("activation " + op.opName() + " backward " + n, new Row(timed(() -> Pointwise.gradientInto(op,
                        x, y, dy, dx, p1, 0), b), 0));
            }
        }
    }

    private void steps(String name, int[] sizes, int batch) {
        for (boolean graph : device.isCuda() ? new boolean[] {false, true} : new boolean[] {false}) {
            try (Sequential model = Mlp.of(sizes).activation(Activation.RELU).seed(1).device(device).build();
                 Sgd sgd = new Sgd(model.parameters(), 0.01);
                 Tensor x = Tensor.randn(new Generator(3), Shape.of(batch, sizes[0]), DType.FLOAT32, device);
                 Tensor y = labels(batch, sizes[sizes.length - 1]);
                 Trainer trainer = new Trainer(model, sgd).cudaGraph(graph)) {
                // a steady eager step, or the step that captures the graph (its private memory)
                rows.put("step " + name + (graph ? " graphed" : " eager"), measuredStep(trainer, x, y));
            }
        }
    }

    private Tensor labels(int rows, int classes) {
        int[] v = new int[rows];
        for (int i = 0; i < rows; i++) {
            v[i] = i % classes;
        }
        return Tensor.of(v, rows).to(device);
    }
}
