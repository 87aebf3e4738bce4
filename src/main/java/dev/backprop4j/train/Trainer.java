package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.GradClip;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/**
 * The classification training loop: per batch, inside one {@link Scope}, forward, softmax
 * cross-entropy, zeroGrad, backward, optional clipping, optimizer step. Reports each step to a listener.
 */
public final class Trainer {

    /** Called after every step with the running means of the epoch so far. */
    @FunctionalInterface
    public interface Listener {
        void step(int batch, int batches, double meanLoss, double meanAccuracy, long samples);
    }

    /** What one epoch of training measured. */
    public record EpochStats(double loss, double accuracy, long samples, double seconds) {
        public double samplesPerSecond() {
            return samples / seconds;
        }
    }

    private final Module model;
    private final Optimizer optimizer;
    private LrSchedule schedule;
    private double clipNorm;
    private long globalStep;

    public Trainer(Module model, Optimizer optimizer) {
        this.model = model;
        this.optimizer = optimizer;
    }

    /** A learning-rate schedule applied before every step. */
    public Trainer schedule(LrSchedule s) {
        this.schedule = s;
        return this;
    }

    /** Clip gradients to this global norm before each step (0: off). */
    public Trainer clipNorm(double max) {
        this.clipNorm = max;
        return this;
    }

    /** One training step on a batch; returns the batch's loss and number of correct predictions. */
    public double[] step(Tensor x, Tensor y) {
        try (Scope scope = Scope.open()) {
            if (schedule != null) {
                optimizer.setLr(schedule.at(globalStep));
            }
            Tensor logits = model.forward(x);
            Tensor loss = Losses.crossEntropy(logits, y);
            optimizer.zeroGrad();
            loss.backward();
            if (clipNorm > 0) {
                GradClip.clipByGlobalNorm(model.parameters(), clipNorm);
            }
            optimizer.step();
            globalStep++;
            return new double[]{loss.item(), Evaluation.correct(logits, y)};
        }
    }

    /** Trains one epoch over {@code loader}. */
    public EpochStats epoch(DataLoader loader, int epoch, Listener listener) {
        model.train();
        long start = System.nanoTime();
        double lossSum = 0;
        long correct = 0;
        long samples = 0;
        int batches = loader.batches();
        int i = 0;
        for (DataLoader.Batch b : loader.epoch(epoch)) {
            try (b) {
                double[] r = step(b.x(), b.y());
                lossSum += r[0] * b.size();
                correct += (long) r[1];
                samples += b.size();
            }
            i++;
            if (listener != null) {
                listener.step(i, batches, lossSum / samples, (double) correct / samples, samples);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new EpochStats(lossSum / samples, (double) correct / samples, samples, seconds);
    }
}
