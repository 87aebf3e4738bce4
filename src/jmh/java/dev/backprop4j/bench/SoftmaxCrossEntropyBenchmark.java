package dev.backprop4j.bench;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Fused softmax cross-entropy, forward and backward, on logits [4096, 1000] (float32). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SoftmaxCrossEntropyBenchmark {
    public static final int ROWS = 4096;
    public static final int CLASSES = 1000;

    @Param({"cpu"})
    public String device;

    private Tensor logits;
    private Tensor labels;

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Device.parse(device);
        logits = Tensor.randn(new Generator(1), Shape.of(ROWS, CLASSES), DType.FLOAT32, d).requiresGrad(true);
        int[] l = new int[ROWS];
        for (int i = 0; i < ROWS; i++) {
            l[i] = (i * 31) % CLASSES;
        }
        labels = Tensor.of(l, ROWS).to(d);
    }

    @Benchmark
    public double forwardBackward() {
        try (dev.backprop4j.tensor.Scope s = dev.backprop4j.tensor.Scope.open()) {
            Tensor loss = logits.crossEntropy(labels);
            loss.backward();
            double v = loss.item();
            logits.zeroGrad();
            return v;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        logits.close();
        labels.close();
    }
}
