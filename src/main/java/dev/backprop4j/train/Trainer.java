package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.GradClip;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.function.BiFunction;

/**
 * The classification training loop: per batch, inside one {@link Scope}, forward, the loss (softmax cross-entropy
 * unless {@link #loss} says otherwise), zeroGrad, backward, optional clipping, optimizer step. Labels are int32
 * class indices; accuracy counts the rows whose largest logit is the label. Reports each step to a listener.
 */
public final class Trainer {

    /** Called after every step with the running means of the epoch so far. */
    @FunctionalInterface
    public interface Listener {
        void step(int batch, int batches, double meanLoss, double meanAccuracy, long samples);
    }

    /** What one step measured: the batch's mean loss, how many rows were predicted right, and the batch size. */
    public record StepResult(double loss, long correct, int samples) {
    }

    /** What one epoch of training measured. */
    public record EpochStats(double loss, double accuracy, long samples, double seconds) {
        public double samplesPerSecond() {
            return samples / seconds;
        }
    }

    private final Module model;
    private final Optimizer optimizer;
    private BiFunction<Tensor, Tensor, Tensor> loss = Losses::crossEntropy;
    private LrSchedule schedule;
    private double clipNorm;
    private long globalStep;

    public Trainer(Module model, Optimizer optimizer) {
        this.model = model;
        this.optimizer = optimizer;
    }

    /**
     * The loss of a batch from the model's output [rows, classes] and the int32 labels [rows], a scalar mean over
     * the rows (default: {@link Losses#crossEntropy(Tensor, Tensor)}).
     */
    public Trainer loss(BiFunction<Tensor, Tensor, Tensor> lossOfBatch) {
        this.loss = lossOfBatch;
        return this;
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

    /** One training step on a batch. */
    public StepResult step(Tensor x, Tensor y) {
        try (Scope scope = Scope.open()) {
            if (schedule != null) {
                optimizer.setLr(schedule.at(globalStep));
            }
            Tensor logits = model.forward(x);
            Tensor l = loss.apply(logits, y);
            optimizer.zeroGrad();
            l.backward();
            if (clipNorm > 0) {
                GradClip.clipByGlobalNorm(model.parameters(), clipNorm);
            }
            optimizer.step();
            globalStep++;
            return new StepResult(l.item(), Evaluation.correct(logits, y), y.dim(0));
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
                StepResult r = step(b.x(), b.y());
                lossSum += r.loss() * r.samples();
                correct += r.correct();
                samples += r.samples();
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
