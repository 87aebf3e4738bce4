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
 *
 * <p>With {@link #cudaGraph} on, {@link #epoch} captures the whole step as a CUDA graph and replays it for every
 * batch of the same shape ({@link GraphedStep}): one launch per step instead of one per kernel.
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
    private boolean cudaGraph;
    private GraphedStep graphed;

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

    /**
     * Whether {@link #epoch} replays a captured CUDA graph per batch (default off): on a CUDA device, for models whose
     * forward is the same function every call (no dropout while training) and without gradient clipping, which reads
     * the norm on the host. Replays compute bit for bit what eager steps compute.
     */
    public Trainer cudaGraph(boolean on) {
        this.cudaGraph = on;
        if (!on && graphed != null) {
            graphed.close();
            graphed = null;
        }
        return this;
    }

    /** Steps taken so far: the learning-rate schedule's position. */
    public long stepsDone() {
        return globalStep;
    }

    /** Continues a run that had taken {@code steps} steps (the schedule resumes there): for resumed checkpoints. */
    public Trainer resumeAt(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("resumeAt: steps must be >= 0, got " + steps);
        }
        this.globalStep = steps;
        return this;
    }

    /** Steps {@link #epoch} ran as CUDA graph replays, and graphs it captured, so far. */
    public long[] graphCounts() {
        return graphed == null ? new long[] {0, 0} : new long[] {graphed.replays(), graphed.captures()};
    }

    /** One training step on a batch, always eager; waits for its loss and correct count. */
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
        advance(() -> { });
        deviceWork(x, y, totals, false);
    }

    /** The host side of a step: the scheduled learning rate, then {@code body} (the optimizer's advance). */
    private void advance(Runnable body) {
        if (schedule != null) {
            optimizer.setLr(schedule.at(globalStep));
        }
        body.run();
        globalStep++;
    }

    /**
     * Forward, loss, backward, update and running totals. Eager ({@code captured} false): the optimizer's whole step
     * and the totals counted; captured: only what the device does, the update reading the values the host wrote.
     */
    private void deviceWork(Tensor x, Tensor y, RunningMetrics totals, boolean captured) {
        try (Scope scope = Scope.open()) {
            Tensor logits = model.forward(x);
            Tensor l = loss.apply(logits, y);
            optimizer.zeroGrad();
            l.backward();
            if (clipNorm > 0) {
                GradClip.clipByGlobalNorm(model.parameters(), clipNorm);
            }
            if (captured) {
                optimizer.update();
            } else {
                optimizer.step();
            }
            try (GradMode.Guard off = GradMode.noGrad()) {
                if (captured) {
                    totals.queue(l, logits, y);
                } else {
                    totals.add(l, logits, y);
                }
            }
        }
    }

    /** The graphed step for the epoch's totals, after checking that the model and settings allow one. */
    private GraphedStep graphed(RunningMetrics totals) {
        if (graphed == null) {
            var device = model.parameters().get(0).device();
            if (!device.isCuda()) {
                throw new IllegalStateException("cudaGraph: the model is on " + device + "; CUDA graphs need a CUDA "
                        + "device (train on cuda, or without CUDA graphs)");
            }
            if (clipNorm > 0) {
                throw new IllegalStateException("cudaGraph: gradient clipping reads the gradient norm on the host, "
                        + "which a replayed graph cannot; turn one of them off");
            }
            if (!model.replayable()) {
                throw new IllegalStateException("cudaGraph: the model draws new random numbers in every forward "
                        + "(dropout while training), which a replayed graph would repeat; turn one of them off");
            }
            graphed = new GraphedStep((x, y) -> queueStep(x, y, totals),
                    (x, y) -> deviceWork(x, y, totals, true),
                    () -> advance(optimizer::advance), totals);
        }
        return graphed;
    }

    /**
     * Queues one training step on a batch and returns without waiting for the device: eager, or a CUDA graph replay
     * when {@link #cudaGraph} is on. Its loss and accuracy go to the running totals of the current epoch. For loops
     * of one's own (and benchmarks) that keep their batches on the device; {@link #epoch} does the same per batch.
     */
    public void submit(Tensor x, Tensor y) {
        if (epochTotals == null) {
            epochTotals = new RunningMetrics(readEvery);
        }
        GraphedStep graph = cudaGraph ? graphed(epochTotals) : null;
        if (graph != null) {
            graph.step(x, y);
        } else {
            queueStep(x, y, epochTotals);
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
                submit(b.x(), b.y());
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
