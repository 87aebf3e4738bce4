package dev.backprop4j.distributed;

import dev.backprop4j.core.DType;
import dev.backprop4j.nn.Module;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Tensor;
import dev.backprop4j.train.GradientHook;
import dev.backprop4j.train.Trainer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Synchronous data parallelism as a hook of the one training loop ({@code trainer.gradients(new
 * DataParallel(comm))}): every rank runs the same {@link Trainer} on the whole model and its share of every batch
 * ({@code loader.shard(rank, ranks)}), and after each backward the ranks sum their gradients, each scaled by its
 * rows over the batch's (1 / ranks for equal shares), with one {@link Collective#allReduceSum} of all gradients at
 * once. That sum is exactly the gradient of the whole batch's mean loss, so every rank applies the same update,
 * clipping and schedule included, N ranks with shares of batch B follow one process with batch B (within float
 * rounding), and the parameters stay identical without ever being sent again.
 *
 * <p>This class owns only what needs the other ranks: the broadcast of rank 0's training state at the start
 * ({@link #broadcast}), the gradient all-reduce per step, and the agreement check: every {@link #checkEvery} steps,
 * and with the epoch's totals at its end, a checksum of the parameters' bits is summed over the ranks, and ranks
 * whose parameters differ fail loudly, naming the step. The gradients travel through host memory: one read of all of
 * them per step (the step's only wait) and one write back (JCuda has no NCCL binding; NCCL's all-reduce on device
 * pointers would be a {@link Collective} that takes device buffers). Parameters must be float32.
 */
public final class DataParallel implements GradientHook {
    private final Collective comm;
    private int checkEvery = 50;
    private long steps;
    private long reduceNanos;
    private List<Tensor> lastParameters;

    public DataParallel(Collective comm) {
        this.comm = comm;
    }

    /** Steps between two checks that the ranks' parameters agree (default 50; the end of every epoch checks too). */
    public DataParallel checkEvery(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("checkEvery: steps must be at least 1, got " + n);
        }
        this.checkEvery = n;
        return this;
    }

    /** The rank this process is, of {@link #ranks()}. */
    public int rank() {
        return comm.rank();
    }

    public int ranks() {
        return comm.size();
    }

    /** Seconds spent in the gradients' trip through the host and the all-reduce so far. */
    public double allReduceSeconds() {
        return reduceNanos / 1e9;
    }

    /**
     * Makes every rank's training state rank 0's: the parameters, the optimizer's state tensors and step counts, and
     * the trainer's step (the schedule's position). Every rank calls it, at the start, or after rank 0 alone
     * restored a checkpoint.
     */
    public void broadcast(Trainer trainer) {
        Module model = trainer.model();
        Optimizer optimizer = trainer.optimizer();
        List<Tensor> params = model.parameters();
        requireFloat32(params);
        try (GradMode.Guard off = GradMode.noGrad()) {
            broadcast(params);
            Map<String, Tensor> named = model.namedParameters();
            Optimizer.State state = optimizer.state(named);
            broadcast(state.tensors().values());
            double[] counts = new double[named.size() + 1];
            int i = 0;
            for (String name : named.keySet()) {
                counts[i++] = state.steps().get(name);
            }
            counts[i] = trainer.stepsDone();
            comm.broadcast(counts, 0);
            Map<String, Long> steps = new LinkedHashMap<>();
            i = 0;
            for (String name : named.keySet()) {
                steps.put(name, (long) counts[i++]);
            }
            optimizer.restore(named, new Optimizer.State(state.tensors(), steps));
            trainer.resumeAt((long) counts[i]);
        }
    }

    private void broadcast(Collection<Tensor> tensors) {
        if (tensors.isEmpty()) {
            return;
        }
        float[] values = read(tensors);
        comm.broadcast(values, 0);
        write(values, tensors);
    }

    /** grads = the sum over ranks of (rows / batchRows) grads, through one all-reduce of all of them. */
    @Override
    public void gradients(List<Tensor> parameters, int rows, int batchRows) {
        if (lastParameters == null) {
            requireFloat32(parameters);
        }
        lastParameters = parameters;
        long start = System.nanoTime();
        List<Tensor> grads = parameters.stream().map(Tensor::grad).toList();
        float[] flat = read(grads);
        double weight = (double) rows / batchRows;
        for (int k = 0; k < flat.length; k++) {
            flat[k] = (float) (flat[k] * weight);
        }
        comm.allReduceSum(flat);
        write(flat, grads);
        reduceNanos += System.nanoTime() - start;
        if (++steps % checkEvery == 0) {
            double mine = checksum(parameters);
            double[] sums = {mine};
            comm.allReduceSum(sums);
            agree(sums[0], mine, "step " + steps);
        }
    }

    /** The totals over all ranks, with the agreement check. */
    @Override
    public void epochEnd(int epoch, double[] totals) {
        double mine = lastParameters == null ? 0 : checksum(lastParameters);
        double[] sums = Arrays.copyOf(totals, totals.length + 1);
        sums[totals.length] = mine;
        comm.allReduceSum(sums);
        agree(sums[totals.length], mine, "the end of epoch " + epoch);
        System.arraycopy(sums, 0, totals, 0, totals.length);
    }

    private void agree(double sum, double mine, String where) {
        if (sum != mine * comm.size()) {
            throw new IllegalStateException(String.format(Locale.ROOT, "data-parallel: the ranks' parameters differ "
                    + "at %s (rank %d's checksum %.0f, the mean over %d ranks %.1f)", where, comm.rank(), mine,
                    comm.size(), sum / comm.size()));
        }
    }

    /** A 32-bit checksum of every parameter's bits (exact in a double, and summed exactly over a few ranks). */
    private static double checksum(List<Tensor> params) {
        long h = 0;
        for (float v : read(params)) {
            h = (h * 31 + Float.floatToRawIntBits(v)) & 0xFFFFFFFFL;
        }
        return h;
    }

    /** The tensors' values one after the other, in one read from the device. */
    private static float[] read(Collection<Tensor> tensors) {
        try (GradMode.Guard off = GradMode.noGrad()) {
            List<Tensor> flat = new ArrayList<>();
            for (Tensor t : tensors) {
                flat.add(t.reshape((int) t.size()));
            }
            try (Tensor all = Tensor.cat(flat, 0)) {
                return all.toFloatArray();
            } finally {
                flat.forEach(Tensor::close);
            }
        }
    }

    /** The inverse of {@link #read}: each tensor's values from {@code from}, in the same order, without waiting. */
    private static void write(float[] from, Collection<Tensor> tensors) {
        int at = 0;
        for (Tensor t : tensors) {
            t.copyFrom(Arrays.copyOfRange(from, at, at + (int) t.size()));
            at += (int) t.size();
        }
    }

    private static void requireFloat32(List<Tensor> params) {
        long total = 0;
        for (Tensor p : params) {
            if (p.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("data-parallel: parameter " + p.describe() + " is not float32 "
                        + "(gradients travel as float32)");
            }
            total += p.size();
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("data-parallel: " + total + " parameters exceed one Java array");
        }
    }
}
