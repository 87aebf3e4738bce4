package dev.backprop4j.bench;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.UnaryOp;
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

/**
 * One activation primitive, forward (y = f(x): 8 bytes moved per float32 element) or backward
 * (dx = dy f'(x or y): 12 bytes per element), on preallocated buffers. GB/s = bytes / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class ActivationBenchmark {

    @Param({"relu", "leaky_relu", "sigmoid", "tanh", "gelu"})
    public String op;

    @Param({"1048576", "16777216"})
    public int size;

    @Param({"forward", "backward"})
    public String direction;

    @Param({"cpu"})
    public String device;

    private Tensor x;
    private Tensor y;
    private Tensor dy;
    private Tensor dx;
    private Backend backend;
    private UnaryOp unary;

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Device.parse(device);
        Generator gen = new Generator(1);
        x = Tensor.randn(gen, Shape.of(size), DType.FLOAT32, d);
        dy = Tensor.randn(gen, Shape.of(size), DType.FLOAT32, d);
        y = Tensor.empty(Shape.of(size), DType.FLOAT32, d);
        dx = Tensor.empty(Shape.of(size), DType.FLOAT32, d);
        backend = x.backend();
        unary = UnaryOp.valueOf(op.toUpperCase(java.util.Locale.ROOT));
        backend.unary(unary, x.buffer(), y.buffer(), 0.01, 0);
    }

    @Benchmark
    public void run() {
        if (direction.equals("forward")) {
            backend.unary(unary, x.buffer(), y.buffer(), 0.01, 0);
        } else {
            backend.unaryBackward(unary, x.buffer(), y.buffer(), dy.buffer(), dx.buffer(), 0.01, 0);
        }
        backend.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        y.close();
        dy.close();
        dx.close();
    }
}
