package dev.backprop4j.determinism;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Generator;
import dev.backprop4j.core.Shape;
import dev.backprop4j.nn.Activation;
import dev.backprop4j.nn.Mlp;
import dev.backprop4j.nn.Sequential;
import dev.backprop4j.optim.Adam;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Trainer;

import java.util.zip.CRC32;

/**
 * The float32 CPU work whose bits must not depend on the JIT tier or the number of threads: every activation forward
 * and backward (on an array long enough to be split over the cores, with a partial last vector), softmax and
 * log-softmax rows, cross-entropy and its backward, a matrix product and its backward, and three Adam steps of an
 * MLP per activation, with dropout. Run as a program, it prints the CRC of all their bits computed cold (the first
 * call: interpreter and C1), then again after 500 calls on small inputs (C2): {@code cold=... warm=...}.
 */
public final class Workload {
    private Workload() {
    }

    public static void main(String[] args) {
        long cold = fingerprint(300_003);
        for (int i = 0; i < 500; i++) {
            fingerprint(257);
        }
        long warm = fingerprint(300_003);
        System.out.printf("cold=%08x warm=%08x%n", cold, warm);
    }

    /** The CRC of every output's bits, for elementwise inputs of n elements. */
    static long fingerprint(int n) {
        CRC32 crc = new CRC32();
        try (Scope s = Scope.open()) {
            Generator g = new Generator(7);
            Tensor x = Tensor.randn(g, Shape.of(n), DType.FLOAT32, Device.CPU).mul(3);
            for (Activation a : Activation.values()) {
                Tensor xi = x.detach().requiresGrad(true);
                Tensor y = a.apply(xi);
                y.mul(x).sum().backward();
                add(crc, y);
                add(crc, xi.grad());
            }
            Tensor rows = Tensor.randn(g, Shape.of(37, 101), DType.FLOAT32, Device.CPU).mul(4);
            add(crc, rows.softmax(1));
            add(crc, rows.logSoftmax(1));
            Tensor logits = Tensor.randn(g, Shape.of(67, 10), DType.FLOAT32, Device.CPU).requiresGrad(true);
            int[] labels = new int[67];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = (i * 7) % 10;
            }
            Tensor loss = logits.crossEntropy(Tensor.of(labels, 67));
            loss.backward();
            add(crc, loss);
            add(crc, logits.grad());
            Tensor a = Tensor.randn(g, Shape.of(33, 65), DType.FLOAT32, Device.CPU).requiresGrad(true);
            Tensor b = Tensor.randn(g, Shape.of(65, 47), DType.FLOAT32, Device.CPU).requiresGrad(true);
            Tensor c = a.matmul(b);
            c.sum().backward();
            add(crc, c);
            add(crc, a.grad());
            add(crc, b.grad());
            for (dev.backprop4j.tensor.Autocast.Precision p : dev.backprop4j.tensor.Autocast.Precision.values()) {
                Tensor ap = a.detach().requiresGrad(true);
                Tensor cp;
                try (dev.backprop4j.tensor.Autocast mixed = dev.backprop4j.tensor.Autocast.of(p)) {
                    cp = ap.matmul(b.detach());
                }
                cp.sum().backward();
                add(crc, cp);
                add(crc, ap.grad());
            }
            add(crc, x.to(DType.BFLOAT16).to(DType.FLOAT32)); // the parallel casts
            for (Activation act : new Activation[] {Activation.RELU, Activation.LEAKY_RELU, Activation.SIGMOID,
                Activation.TANH, Activation.GELU}) {
                try (Sequential m = Mlp.of(20, 32, 16, 10).activation(act).dropout(0.1).seed(3).build();
                     Adam opt = new Adam(m.parameters(), 1e-2); Trainer t = new Trainer(m, opt)) {
                    threeSteps(t, 11, crc);
                }
            }
            for (Activation act : new Activation[] {Activation.RELU, Activation.SIGMOID, Activation.GELU}) {
                // bf16 autocast without dropout: hidden activations kept in bfloat16 between the dense layers
                try (Sequential m = Mlp.of(20, 32, 16, 10).activation(act).seed(5).build();
                     Adam opt = new Adam(m.parameters(), 1e-2);
                     Trainer t = new Trainer(m, opt).precision(dev.backprop4j.tensor.Autocast.Precision.BF16)) {
                    threeSteps(t, 12, crc);
                }
            }
        }
        return crc.getValue();
    }

    /** Three steps of {@code t} on 24 rows of 20 features (from generator {@code seed}), then its parameters. */
    private static void threeSteps(Trainer t, long seed, CRC32 crc) {
        Tensor in = Tensor.randn(new Generator(seed), Shape.of(24, 20), DType.FLOAT32, Device.CPU);
        int[] y = new int[24];
        for (int i = 0; i < y.length; i++) {
            y[i] = i % 10;
        }
        Tensor target = Tensor.of(y, 24);
        for (int step = 0; step < 3; step++) {
            t.step(in, target);
        }
        t.model().parameters().forEach(p -> add(crc, p));
    }

    private static void add(CRC32 crc, Tensor t) {
        for (float v : t.toFloatArray()) {
            int bits = Float.floatToRawIntBits(v);
            crc.update(bits);
            crc.update(bits >>> 8);
            crc.update(bits >>> 16);
            crc.update(bits >>> 24);
        }
    }
}
