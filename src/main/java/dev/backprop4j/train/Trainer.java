package dev.backprop4j.train;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.LrSchedule;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.Tensor;

import java.util.function.BiFunction;

/**
 * The training loop, the only one: per batch one {@link TrainStep} (forward, the loss (softmax cross-entropy unless
 * {@link #loss} says otherwise), backward, the {@link GradientHook} if one is set, clipping, the optimizer's update),
 * with the learning rate from a schedule. Labels are int32 class indices; accuracy counts the rows whose largest
 * logit is the label. A regression loader's float targets [rows, 1] train with {@link #loss} (mean squared error,
 * say) and have no accuracy: NaN in the listener and the epoch's numbers.
 *
 * <p>{@link #epoch} never waits for the device inside a step, clipped or not: the loss and accuracy accumulate on
 * the device and reach the host through non-blocking reads every few steps ({@link #readEvery}), so a GPU runs ahead
 * of the host and never idles while Java reads a loss. Only {@link #step} returns the batch's numbers, and waits for
 * them. With {@link #cudaGraph} on, {@link #epoch} captures the whole step as a CUDA graph and replays it for every
 * batch of the same shape ({@link GraphedStep}): one launch per step instead of one per kernel, bit for bit the
 * same results.
 *
 * <p>Data-parallel training is this loop on every process, with a hook that sums the processes' gradients
 * ({@code distributed.DataParallel}) and a loader that gives each its share of every batch ({@link DataLoader#shard}).
 */
public final class Trainer implements AutoCloseable {

    /**
     * Called whenever new running totals reach the host (every few steps on a GPU, every step on the CPU) and
     * once more at the end of the epoch with its exact totals: {@code batch} of {@code batches} is the last batch
     * the means cover, {@code samples} the rows they cover. With a {@link GradientHook} the running numbers are
     * this process's, and the last call's those the hook's {@link GradientHook#epochEnd} gives (over all processes).
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
    private int accumulate = 1;
    private Autocast.Precision precision = Autocast.Precision.FP32;
    private GradientHook hook;
    private long globalStep;
    private int readEvery = 8;
    private RunningMetrics epochTotals;
    private RunningMetrics stepTotals;
    private boolean cudaGraph;
    private TrainStep step;
    private GraphedStep graphed;

    public Trainer(Module model, Optimizer optimizer) {
        this.model = model;
        this.optimizer = optimizer;
    }

    /** The model this trainer trains. */
    public Module model() {
        return model;
    }

    /** The optimizer that updates it. */
    public Optimizer optimizer() {
        return optimizer;
    }

    /**
     * The loss of a batch from the model's output [rows, classes] and the int32 labels [rows], a scalar mean over
     * the rows (default: {@link Losses#crossEntropy(Tensor, Tensor)}).
     */
    public Trainer loss(BiFunction<Tensor, Tensor, Tensor> lossOfBatch) {
        this.loss = lossOfBatch;
        return rebuilt();
    }

    /** A learning-rate schedule applied before every step. */
    public Trainer schedule(LrSchedule s) {
        this.schedule = s;
        return this;
    }

    /** Clip gradients to this global norm before each update, on the device (0: off). */
    public Trainer clipNorm(double max) {
        if (!(max >= 0)) {
            throw new IllegalArgumentException("clipNorm: the norm must be >= 0 (0: off), got " + max);
        }
        this.clipNorm = max;
        return rebuilt();
    }

    /**
     * Computes each batch's step over {@code microBatches} micro-batches of its rows (default 1): the gradient of the
     * batch's mean loss, summed from each micro-batch's weighted by its rows, so the step equals one over the whole
     * batch within float rounding, with a fraction of the activation memory (PyTorch users write the loop by hand).
     * The running metrics count every micro-batch.
     */
    public Trainer accumulate(int microBatches) {
        if (microBatches < 1) {
            throw new IllegalArgumentException("accumulate: micro-batches must be at least 1, got " + microBatches);
        }
        this.accumulate = microBatches;
        return rebuilt();
    }

    /**
     * Runs each step's forward and loss under {@link Autocast#of} {@code precision} (default FP32): with BF16 the
     * GEMMs on bfloat16 inputs with float32 accumulation, with TF32 on TF32-rounded ones; everything else and every
     * gradient and update in float32.
     */
    public Trainer precision(Autocast.Precision p) {
        this.precision = p;
        return rebuilt();
    }

    /**
     * Runs {@code h} on the gradients of every step, between the backward and the clipping (null: none), e.g.
     * {@code distributed.DataParallel}'s all-reduce.
     */
    public Trainer gradients(GradientHook h) {
        this.hook = h;
        return rebuilt();
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
        if (epochTotals != null) {
            epochTotals.close();
            epochTotals = null;
        }
        return rebuilt();
    }

    /**
     * Whether {@link #epoch} replays a captured CUDA graph per batch (default off): on a CUDA device, for models whose
     * forward draws no random numbers on the host ({@link Module#replayable()}; dropout draws on the device). Clipping,
     * dropout, schedules and a gradient hook all work under replay, which computes bit for bit what eager steps do.
     */
    public Trainer cudaGraph(boolean on) {
        this.cudaGraph = on;
        return rebuilt();
    }

    /** Drops the step and graph built from the old settings. */
    private Trainer rebuilt() {
        step = null;
        if (graphed != null) {
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

    /**
     * One training step on a batch, always eager; waits for its loss and correct count. With a {@link GradientHook}
     * set, say how many rows the batch has over all processes: {@link #step(Tensor, Tensor, int)}.
     */
    public StepResult step(Tensor x, Tensor y) {
        if (hook != null) {
            throw new IllegalStateException("Trainer.step(x, y): a gradient hook is set, which weighs this process's "
                    + y.dim(0) + " rows against the batch's rows over all processes; call step(x, y, batchRows)");
        }
        return step(x, y, y.dim(0));
    }

    /**
     * {@link #step(Tensor, Tensor)} on this process's share (y's rows) of a batch of {@code batchRows} rows over all
     * processes, for data-parallel training by hand. The result is this process's.
     */
    public StepResult step(Tensor x, Tensor y, int batchRows) {
        if (batchRows < y.dim(0)) {
            throw new IllegalArgumentException("Trainer.step: batchRows " + batchRows + " is fewer than this "
                    + "process's " + y.dim(0) + " rows");
        }
        if (graphed != null) { // the graph's captured gradients are not the ones an eager step makes
            graphed.drop();
        }
        if (stepTotals == null) {
            stepTotals = new RunningMetrics(1);
        }
        stepTotals.reset();
        scheduleLr();
        TrainStep s = trainStep();
        s.gradients(x, y, stepTotals);
        s.exchange(y.dim(0), batchRows);
        s.update();
        globalStep++;
        stepTotals.counted();
        RunningMetrics.Totals t = stepTotals.await();
        return new StepResult(t.meanLoss(), t.correct(), y.dim(0));
    }

    /**
     * Queues one training step on a batch and returns without waiting for the device: eager, or a CUDA graph replay
     * when {@link #cudaGraph} is on. Its loss and accuracy go to the running totals of the current epoch. For loops
     * of one's own (and benchmarks) that keep their batches on the device; {@link #epoch} does the same per batch.
     */
    public void submit(Tensor x, Tensor y) {
        submit(x, y, y.dim(0));
    }

    /** {@link #submit(Tensor, Tensor)} for this process's share of a batch of {@code batchRows} rows in all. */
    private void submit(Tensor x, Tensor y, int batchRows) {
        if (epochTotals == null) {
            epochTotals = new RunningMetrics(readEvery);
        }
        scheduleLr();
        if (cudaGraph) {
            graphed().run(x, y, batchRows);
        } else {
            TrainStep s = trainStep();
            s.gradients(x, y, epochTotals);
            s.exchange(y.dim(0), batchRows);
            s.update();
        }
        globalStep++;
        epochTotals.counted();
    }

    private void scheduleLr() {
        if (schedule != null) {
            optimizer.setLr(schedule.at(globalStep));
        }
    }

    private TrainStep trainStep() {
        if (step == null) {
            step = new TrainStep(model, optimizer, loss, clipNorm, hook, accumulate, precision);
        }
        return step;
    }

    /** The graphed step, after checking that the model allows one. */
    private GraphedStep graphed() {
        if (graphed == null) {
            var device = model.parameters().get(0).device();
            if (!device.isCuda()) {
                throw new IllegalStateException("cudaGraph: the model is on " + device + "; CUDA graphs need a CUDA "
                        + "device (train on cuda, or without CUDA graphs)");
            }
            if (!model.replayable()) {
                throw new IllegalStateException("cudaGraph: the model draws random numbers on the host in its "
                        + "forward, which a replayed graph would repeat; train without CUDA graphs");
            }
            graphed = new GraphedStep(trainStep(), epochTotals);
        }
        return graphed;
    }

    /** Trains one epoch over {@code loader} (with a hook, this process's {@link DataLoader#shard} of it). */
    public EpochStats epoch(DataLoader loader, int epoch, Listener listener) {
        model.train();
        long start = System.nanoTime();
        int batches = loader.batches();
        if (epochTotals == null) {
            epochTotals = new RunningMetrics(readEvery);
        }
        epochTotals.reset();
        int reported = 0;
        boolean regression = loader.dataset().isRegression();
        for (DataLoader.Batch b : loader.epoch(epoch)) {
            try (b) {
                submit(b.x(), b.y(), b.batchRows());
            }
            RunningMetrics.Totals seen = epochTotals.poll();
            if (seen != null && listener != null) {
                listener.step(seen.batches(), batches, seen.meanLoss(), regression ? Double.NaN : seen.accuracy(),
                        seen.samples());
                reported = seen.batches();
            }
        }
        RunningMetrics.Totals all = epochTotals.await();
        if (hook != null) {
            double[] sums = {all.lossSum(), all.correct(), all.samples()};
            hook.epochEnd(epoch, sums);
            all = new RunningMetrics.Totals(sums[0], (long) sums[1], (long) sums[2], all.batches());
        }
        double accuracy = regression ? Double.NaN : all.accuracy();
        if (listener != null && (reported < all.batches() || hook != null)) {
            listener.step(all.batches(), batches, all.meanLoss(), accuracy, all.samples());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new EpochStats(all.meanLoss(), accuracy, all.samples(), seconds);
    }

    /** Frees the running totals and the captured graphs (the model and optimizer are the caller's). */
    @Override
    public void close() {
        rebuilt();
        if (epochTotals != null) {
            epochTotals.close();
            epochTotals = null;
        }
        if (stepTotals != null) {
            stepTotals.close();
            stepTotals = null;
        }
    }
}
