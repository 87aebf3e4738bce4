package dev.backprop4j.dist;

import dev.backprop4j.data.DataLoader;
import dev.backprop4j.nn.Module;
import dev.backprop4j.ops.Losses;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.Evaluation;

import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Synchronous data-parallel training, one instance per rank: every rank holds the whole model, trains on its share of
 * every batch ({@link DataLoader#shard}), and the ranks sum their gradients with one all-reduce per step, so all
 * ranks apply the same update and their parameters stay identical without ever being sent again.
 *
 * <p>Per step: forward and backward on this rank's rows (the mean loss over them), then the gradients of all
 * parameters in one flat float array in the model's parameter order, each scaled by rows here / rows in the whole
 * batch (1 / ranks for equal shares), one {@link Collective#allReduceSum}, back into the gradients, and the optimizer's
 * step: exactly the gradient of the whole batch's mean loss, so N ranks with batch B / N follow one process with
 * batch B (within float rounding). At construction the parameters are broadcast from rank 0. Every
 * {@code checkEvery} steps and at the end of an epoch a 4-element all-reduce adds up the loss, correct predictions,
 * rows and a checksum of the parameters' bits: ranks whose parameters differ fail loudly, naming the step.
 * On a GPU the gradients go through host memory (JCuda has no NCCL binding; NCCL's all-reduce on device pointers
 * would be a {@link Collective} that takes device buffers).
 */
public final class DataParallelTrainer {

    /** What an epoch measured over all ranks. */
    public record EpochStats(double loss, double accuracy, long samples, double seconds, double allReduceSeconds,
                             int steps) {
    }

    /** Called on every rank after each check with the running totals over all ranks. */
    @FunctionalInterface
    public interface Listener {
        void step(int batch, int batches, double meanLoss, double meanAccuracy, long samples);
    }

    private final Module model;
    private final Optimizer optimizer;
    private final Collective comm;
    private final List<Tensor> params;
    private final float[] flat;
    private int checkEvery = 50;
    private long steps;
    private LongConsumer onStep = s -> { };

    /** Wraps a model and its optimizer on this rank; the parameters are broadcast from rank 0 now. */
    public DataParallelTrainer(Module model, Optimizer optimizer, Collective comm) {
        this.model = model;
        this.optimizer = optimizer;
        this.comm = comm;
        this.params = model.parameters();
        long total = 0;
        for (Tensor p : params) {
            if (p.dtype() != dev.backprop4j.core.DType.FLOAT32) {
                throw new IllegalArgumentException("data-parallel: parameter " + p.describe() + " is not float32 "
                        + "(gradients travel as float32)");
            }
            total += p.size();
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("data-parallel: " + total + " parameters exceed one Java array");
        }
        this.flat = new float[(int) total];
        broadcastParameters();
    }

    /** Steps between two checks of the ranks' agreement and two updates of the listener (default 50). */
    public DataParallelTrainer checkEvery(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("checkEvery: steps must be at least 1, got " + steps);
        }
        this.checkEvery = steps;
        return this;
    }

    /** Called before each step with its number (counted over epochs from 0), e.g. for progress or fault injection. */
    public DataParallelTrainer onStep(LongConsumer callback) {
        this.onStep = callback;
        return this;
    }

    /** Continues a run that had taken {@code steps} steps (a resumed checkpoint's). */
    public DataParallelTrainer resumeAt(long steps) {
        this.steps = steps;
        return this;
    }

    /** Makes every rank's parameters rank 0's. */
    public void broadcastParameters() {
        comm.broadcast(gather(params, flat), 0);
        scatter(flat, params);
    }

    /**
     * Makes every rank's optimizer state (its tensors and each parameter's step count) rank 0's: after rank 0 alone
     * restored a checkpoint.
     */
    public void broadcastOptimizerState() {
        Map<String, Tensor> named = model.namedParameters();
        Optimizer.State state = optimizer.state(named);
        Collection<Tensor> tensors = state.tensors().values();
        float[] values = gather(tensors, new float[(int) tensors.stream().mapToLong(Tensor::size).sum()]);
        comm.broadcast(values, 0);
        scatter(values, tensors);
        double[] steps = new double[named.size()];
        int i = 0;
        for (String name : named.keySet()) {
            steps[i++] = comm.rank() == 0 ? state.steps().get(name) : 0;
        }
        comm.allReduceSum(steps); // only rank 0 adds anything: a broadcast of exact integers
        Map<String, Long> counts = new LinkedHashMap<>();
        i = 0;
        for (String name : named.keySet()) {
            counts.put(name, (long) steps[i++]);
        }
        optimizer.restore(named, new Optimizer.State(state.tensors(), counts));
    }

    /** The tensors' values one after the other in {@code into} (which holds at least them all); returns it. */
    private static float[] gather(Collection<Tensor> tensors, float[] into) {
        int at = 0;
        for (Tensor t : tensors) {
            System.arraycopy(t.toFloatArray(), 0, into, at, (int) t.size());
            at += (int) t.size();
        }
        return into;
    }

    /** The inverse of {@link #gather}: each tensor's values from {@code from}, in the same order. */
    private static void scatter(float[] from, Collection<Tensor> tensors) {
        int at = 0;
        for (Tensor t : tensors) {
            t.backend().write(t.buffer(), Arrays.copyOfRange(from, at, at + (int) t.size()));
            at += (int) t.size();
        }
    }

    /** Trains one epoch on this rank's share of {@code loader}'s batches (the loader is sharded here). */
    public EpochStats epoch(DataLoader loader, int epoch, Listener listener) {
        model.train();
        DataLoader mine = loader.shard(comm.rank(), comm.size());
        long start = System.nanoTime();
        long reduceNanos = 0;
        double[] local = new double[3];   // loss sum, correct, rows since the last check
        double[] totals = new double[3];
        int batches = loader.batches();
        int i = 0;
        for (DataLoader.Batch b : mine.epoch(epoch)) {
            onStep.accept(steps);
            try (b; Scope scope = Scope.open()) {
                int rows = b.size();
                int all = loader.rowsOfBatch(i);
                optimizer.zeroGrad();
                if (rows > 0) {
                    Tensor logits = model.forward(b.x());
                    Tensor loss = Losses.crossEntropy(logits, b.y());
                    loss.backward();
                    local[0] += loss.item() * rows;
                    local[1] += Evaluation.correct(logits, b.y());
                    local[2] += rows;
                } else {
                    zeroGradients(); // an empty share (a last batch with fewer rows than ranks) adds nothing
                }
                long t0 = System.nanoTime();
                reduceGradients((double) rows / all);
                reduceNanos += System.nanoTime() - t0;
                optimizer.step();
            }
            i++;
            steps++;
            if (i % checkEvery == 0 || i == batches) {
                check(local, totals, epoch, i);
                if (listener != null) {
                    listener.step(i, batches, totals[0] / totals[2], totals[1] / totals[2], (long) totals[2]);
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new EpochStats(totals[0] / totals[2], totals[1] / totals[2], (long) totals[2], seconds,
                reduceNanos / 1e9, i);
    }

    /** grads = the sum over ranks of (weight grads here), through one all-reduce of all gradients at once. */
    private void reduceGradients(double weight) {
        if (params.stream().anyMatch(p -> p.grad() == null)) {
            zeroGradients(); // a parameter the loss does not reach: every rank must update every parameter alike
        }
        List<Tensor> grads = params.stream().map(Tensor::grad).toList();
        gather(grads, flat);
        for (int k = 0; k < flat.length; k++) {
            flat[k] = (float) (flat[k] * weight);
        }
        comm.allReduceSum(flat);
        scatter(flat, grads);
    }

    /** Gives every parameter a gradient (zero where it had none), through the tape: a backward of 0 x the parameters. */
    private void zeroGradients() {
        try (Scope scope = Scope.open()) {
            Tensor zero = null;
            for (Tensor p : params) {
                if (p.grad() == null) {
                    Tensor term = p.mul(0).sum();
                    zero = zero == null ? term : zero.add(term);
                }
            }
            if (zero != null) {
                zero.backward();
            }
        }
    }

    /**
     * Adds this rank's loss, correct count and rows since the last check to {@code totals} over all ranks, and checks
     * that every rank's parameters have the same checksum.
     */
    private void check(double[] local, double[] totals, int epoch, int batch) {
        long mine = checksum();
        double[] sums = {local[0], local[1], local[2], mine};
        comm.allReduceSum(sums);
        if (sums[3] != (double) mine * comm.size()) {
            throw new IllegalStateException(String.format(Locale.ROOT, "data-parallel: the ranks' parameters differ "
                    + "at epoch %d, batch %d (rank %d's checksum %d, the mean over %d ranks %.1f)", epoch, batch,
                    comm.rank(), mine, comm.size(), sums[3] / comm.size()));
        }
        for (int k = 0; k < 3; k++) {
            totals[k] += sums[k];
            local[k] = 0;
        }
    }

    /** A 32-bit checksum of every parameter's bits (exact in a double, and summed exactly over a few ranks). */
    private long checksum() {
        long h = 0;
        for (Tensor p : params) {
            for (float v : p.toFloatArray()) {
                h = (h * 31 + Float.floatToRawIntBits(v)) & 0xFFFFFFFFL;
            }
        }
        return h;
    }

    /** Steps taken by this trainer. */
    public long steps() {
        return steps;
    }
}
