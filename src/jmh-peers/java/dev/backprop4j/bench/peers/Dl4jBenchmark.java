package dev.backprop4j.bench.peers;

import dev.backprop4j.bench.TrainingStepBenchmark;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The suite's matmul and training-step rows in Deeplearning4j 1.0.0-M2.1 on ND4J's CPU backend (OpenBLAS/oneDNN
 * through JavaCPP), the way a DL4J user writes them: {@code INDArray.mmuli} into a preallocated result, and a
 * {@code MultiLayerNetwork} of ReLU {@code DenseLayer}s and a softmax {@code OutputLayer} with MCXENT loss and
 * {@code Sgd(0.01)}, one {@code fit(DataSet)} per step. Opt-in: compiled only by the bench-jvm-peers Maven profile.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Dl4jBenchmark {

    /** Square float32 matmul operands and the result they are written into. */
    @State(Scope.Benchmark)
    public static class Matmul {
        @Param({"256", "512", "1024", "2048"})
        public int n;
        INDArray a;
        INDArray b;
        INDArray c;

        @Setup(Level.Trial)
        public void setUp() {
            Nd4j.getRandom().setSeed(1);
            a = Nd4j.randn(DataType.FLOAT, n, n);
            b = Nd4j.randn(DataType.FLOAT, n, n);
            c = Nd4j.create(DataType.FLOAT, new long[]{n, n}, 'f');
        }
    }

    /** The two training-step models of {@link TrainingStepBenchmark} as a MultiLayerNetwork. */
    @State(Scope.Benchmark)
    public static class Step {
        @Param({"mnist", "wide"})
        public String model;
        MultiLayerNetwork net;
        DataSet batch;

        @Setup(Level.Trial)
        public void setUp() {
            int[] sizes = TrainingStepBenchmark.sizes(model);
            int rows = TrainingStepBenchmark.batch(model);
            int classes = sizes[sizes.length - 1];
            NeuralNetConfiguration.ListBuilder layers = new NeuralNetConfiguration.Builder().seed(1)
                    .dataType(DataType.FLOAT).updater(new Sgd(0.01)).weightInit(WeightInit.XAVIER).list();
            for (int i = 1; i + 1 < sizes.length; i++) {
                layers.layer(new DenseLayer.Builder().nIn(sizes[i - 1]).nOut(sizes[i]).activation(Activation.RELU)
                        .build());
            }
            layers.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(sizes[sizes.length - 2])
                    .nOut(classes).activation(Activation.SOFTMAX).build());
            MultiLayerConfiguration conf = layers.build();
            net = new MultiLayerNetwork(conf);
            net.init();
            Nd4j.getRandom().setSeed(2);
            INDArray x = Nd4j.randn(DataType.FLOAT, rows, sizes[0]);
            INDArray y = Nd4j.zeros(DataType.FLOAT, rows, classes);
            for (int i = 0; i < rows; i++) {
                y.putScalar(i, i % classes, 1f);
            }
            batch = new DataSet(x, y);
        }
    }

    @Benchmark
    public INDArray matmul(Matmul s) {
        return s.a.mmuli(s.b, s.c);
    }

    /** Forward, loss, backward and one SGD update. */
    @Benchmark
    public double step(Step s) {
        s.net.fit(s.batch);
        return s.net.score();
    }
}
