package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.GradClip;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.function.BiFunction;

/**
 * The classification training loop: per batch, inside one {@link Scope}, forward, the loss (softmax cross-entropy
 * unless {@link #loss} says otherwise), zeroGrad, backward, optional clipping, optimizer step. Labels are int32
 * class indices; accuracy counts the rows whose largest logit is the label.
 *
 * <p>{@link #epoch} never waits for the device inside a step: the loss and accuracy accumulate on the device and
 * reach the host through non-blocking reads every few steps ({@link #readEvery}), so a GPU runs ahead of the host
 * and never idles while Java reads a loss. Only {@link #step} returns the batch's numbers, and waits for them.
 * Gradient clipping ({@link #clipNorm}) reads the global norm on the host, so it waits once per step.
 */
public final class Trainer {

    /**
     * Called whenever new running totals reach the host (every few steps on a GPU, every step on the CPU) and
     * once more at the end of the epoch with its exact totals: {@code batch} of {@code batches} is the last batch
     * the means cover, {@code samples} the rows they cover.
     */
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
    private int readEvery = 8;
    private RunningMetrics epochTotals;
    private RunningMetrics stepTotals;

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

    /**
     * How many steps at most between two reads of the running loss and accuracy during {@link #epoch} (default 8;
     * a read never waits, so this only sets how fresh the listener's numbers are).
     */
    public Trainer readEvery(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("readEvery: steps must be at least 1, got " + steps);
        }
        this.readEvery = steps;
        return this;
    }

    /** One training step on a batch; waits for its loss and correct count. */
    public StepResult step(Tensor x, Tensor y) {
        if (stepTotals == null) {
            stepTotals = new RunningMetrics(1);
        }
        stepTotals.reset();
        queueStep(x, y, stepTotals);
        RunningMetrics.Totals t = stepTotals.await();
        return new StepResult(t.meanLoss(), t.correct(), y.dim(0));
    }

    /** One step, queued: nothing waits for the device unless clipping is on. */
    private void queueStep(Tensor x, Tensor y, RunningMetrics totals) {
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
            try (GradMode.Guard off = GradMode.noGrad()) {
                totals.add(l, logits, y);
            }
        }
    }

    /** Trains one epoch over {@code loader}. */
    public EpochStats epoch(DataLoader loader, int epoch, Listener listener) {
        model.train();
        long start = System.nanoTime();
        int batches = loader.batches();
        if (epochTotals == null) {
            epochTotals = new RunningMetrics(readEvery);
        }
        epochTotals.reset();
        int reported = 0;
        for (DataLoader.Batch b : loader.epoch(epoch)) {
            try (b) {
                queueStep(b.x(), b.y(), epochTotals);
            }
            RunningMetrics.Totals seen = epochTotals.poll();
            if (seen != null && listener != null) {
                listener.step(seen.batches(), batches, seen.meanLoss(), seen.accuracy(), seen.samples());
                reported = seen.batches();
            }
        }
        RunningMetrics.Totals all = epochTotals.await();
        if (listener != null && reported < all.batches()) {
            listener.step(all.batches(), batches, all.meanLoss(), all.accuracy(), all.samples());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new EpochStats(all.meanLoss(), all.accuracy(), all.samples(), seconds);
    }
}
