package dev.backprop4j.bench.peers;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.backprop4j.bench.TrainingStepBenchmark;
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
 * The suite's matmul and training-step rows in DJL 0.36 on its PyTorch engine (libtorch 2.7.1, CPU), the way a DJL
 * user writes them: {@code NDArray.matMul}, and a {@code SequentialBlock} of {@code Linear} + ReLU trained with
 * {@code softmaxCrossEntropyLoss} and {@code Optimizer.sgd} (fixed lr 0.01) inside a {@code GradientCollector}.
 * Opt-in: compiled only by the bench-jvm-peers Maven profile, offline ({@code ai.djl.offline=true}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true"})
public class DjlBenchmark {

    /** Square float32 matmul operands. */
    @State(Scope.Benchmark)
    public static class Matmul {
        @Param({"256", "512", "1024", "2048"})
        public int n;
        NDManager manager;
        NDArray a;
        NDArray b;

        @Setup(Level.Trial)
        public void setUp() {
            manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
            manager.getEngine().setRandomSeed(1);
            a = manager.randomNormal(new Shape(n, n));
            b = manager.randomNormal(new Shape(n, n));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            manager.close();
        }
    }

    /** The two training-step models of {@link TrainingStepBenchmark}, with DJL's trainer. */
    @State(Scope.Benchmark)
    public static class Step {
        @Param({"mnist", "wide"})
        public String model;
        NDManager manager;
        Model net;
        Trainer trainer;
        NDArray x;
        NDArray y;

        @Setup(Level.Trial)
        public void setUp() {
            int[] sizes = TrainingStepBenchmark.sizes(model);
            int batch = TrainingStepBenchmark.batch(model);
            SequentialBlock block = new SequentialBlock();
            for (int i = 1; i < sizes.length; i++) {
                block.add(Linear.builder().setUnits(sizes[i]).build());
                if (i + 1 < sizes.length) {
                    block.add(Activation::relu);
                }
            }
            net = Model.newInstance("mlp", ai.djl.Device.cpu(), "PyTorch");
            net.setBlock(block);
            trainer = net.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.01f)).build()));
            trainer.initialize(new Shape(batch, sizes[0]));
            manager = trainer.getManager().newSubManager();
            manager.getEngine().setRandomSeed(2);
            x = manager.randomNormal(new Shape(batch, sizes[0]));
            float[] labels = new float[batch];
            for (int i = 0; i < batch; i++) {
                labels[i] = i % sizes[sizes.length - 1];
            }
            y = manager.create(labels);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            manager.close();
            trainer.close();
            net.close();
        }
    }

    @Benchmark
    public float matmul(Matmul s) {
        try (NDArray c = s.a.matMul(s.b)) {
            return c.getFloat(0, 0);
        }
    }

    /** Forward, loss, backward and one SGD update; the step's intermediates are freed with its sub-manager. */
    @Benchmark
    public float step(Step s) {
        try (NDManager scope = s.manager.newSubManager()) {
            s.x.tempAttach(scope);
            s.y.tempAttach(scope);
            float loss;
            try (GradientCollector collector = s.trainer.newGradientCollector()) {
                NDList pred = s.trainer.forward(new NDList(s.x));
                NDArray value = s.trainer.getLoss().evaluate(new NDList(s.y), pred);
                collector.backward(value);
                loss = value.getFloat();
            }
            s.trainer.step();
            return loss;
        }
    }
}
