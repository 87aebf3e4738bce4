package dev.backprop4j.bench;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.GradMode;
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

/**
 * Square float32 matmul C = A B at n = 256..2048 on each backend present. GFLOP/s = 2 n^3 / time;
 * {@link BenchRunner} converts JMH's average time into it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MatmulBenchmark {

    @Param({"256", "512", "1024", "2048"})
    public int n;

    @Param({"cpu"})
    public String device;

    private Tensor a;
    private Tensor b;
    private GradMode.Guard noGrad;

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Device.parse(device);
        Generator gen = new Generator(1);
        a = Tensor.randn(gen, Shape.of(n, n), DType.FLOAT32, d);
        b = Tensor.randn(gen, Shape.of(n, n), DType.FLOAT32, d);
        noGrad = GradMode.noGrad();
    }

    @Benchmark
    public float matmul() {
        try (Tensor c = a.matmul(b)) {
            c.backend().synchronize();
            return c.isClosed() ? 0f : 1f;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        noGrad.close();
        a.close();
        b.close();
    }
}
