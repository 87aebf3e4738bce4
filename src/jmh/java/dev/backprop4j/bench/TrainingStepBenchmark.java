package dev.backprop4j.bench;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Sgd;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;
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
 * One full training step (forward, softmax cross-entropy, backward, SGD lr 0.01) of
 * (a) "mnist": 784-256-128-10 ReLU at batch 64 and (b) "wide": 1024-1024-1024-1024-10 ReLU at batch 256.
 * FLOPs per step = 6 x batch x sum of in x out ({@link #flops}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class TrainingStepBenchmark {

    @Param({"mnist", "wide"})
    public String model;

    @Param({"cpu"})
    public String device;

    private Sequential net;
    private Sgd sgd;
    private Trainer trainer;
    private Tensor x;
    private Tensor y;

    public static int[] sizes(String model) {
        return model.equals("mnist") ? new int[]{784, 256, 128, 10} : new int[]{1024, 1024, 1024, 1024, 10};
    }

    public static int batch(String model) {
        return model.equals("mnist") ? 64 : 256;
    }

    /** 6 x batch x sum of in x out: 2 for the forward GEMMs, 4 for the two backward ones. */
    public static double flops(String model) {
        int[] s = sizes(model);
        double sum = 0;
        for (int i = 0; i + 1 < s.length; i++) {
            sum += (double) s[i] * s[i + 1];
        }
        return 6.0 * batch(model) * sum;
    }

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Device.parse(device);
        int[] s = sizes(model);
        int b = batch(model);
        net = Mlp.of(s).activation(Activation.RELU).seed(1).device(d).build();
        sgd = new Sgd(net.parameters(), 0.01);
        trainer = new Trainer(net, sgd);
        x = Tensor.randn(new Generator(2), Shape.of(b, s[0]), DType.FLOAT32, d);
        int[] labels = new int[b];
        for (int i = 0; i < b; i++) {
            labels[i] = i % s[s.length - 1];
        }
        y = Tensor.of(labels, b).to(d);
    }

    @Benchmark
    public double step() {
        return trainer.step(x, y).loss();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        net.close();
        sgd.close();
        x.close();
        y.close();
    }
}
