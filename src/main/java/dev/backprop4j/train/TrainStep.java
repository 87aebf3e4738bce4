package dev.backprop4j.train;

import dev.backprop4j.nn.Module;
import dev.backprop4j.optim.GradClip;
import dev.backprop4j.optim.Optimizer;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.tensor.GradMode;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

import java.util.List;
import java.util.function.BiFunction;

/**
 * The training step as one function of a batch, the same whether it runs eagerly or is captured once as a CUDA
 * graph and replayed ({@link GraphedStep}): forward, the loss, the running metrics (queued on the device), backward,
 * then clipping by global norm and the optimizer's update, all computed on the device. Nothing in it waits for the
 * device, and the host writes nothing into it but the batch and the learning rate. It splits at the gradients:
 * {@link #gradients} and {@link #update} are its two halves, between which a {@link GradientHook} may run
 * ({@link #exchange}: data-parallel training's all-reduce, which goes through the host).
 */
final class TrainStep {
    private final Module model;
    private final Optimizer optimizer;
    private final BiFunction<Tensor, Tensor, Tensor> loss;
    private final double clipNorm;
    private final GradientHook hook;
    private final int accumulate;
    private final Autocast.Precision precision;
    private final List<Tensor> params;

    TrainStep(Module model, Optimizer optimizer, BiFunction<Tensor, Tensor, Tensor> loss, double clipNorm,
              GradientHook hook, int accumulate, Autocast.Precision precision) {
        this.model = model;
        this.optimizer = optimizer;
        this.loss = loss;
        this.clipNorm = clipNorm;
        this.hook = hook;
        this.accumulate = accumulate;
        this.precision = precision;
        this.params = model.parameters();
    }

    /** Whether a hook runs between the halves (then a graph of the step is two graphs). */
    boolean hasHook() {
        return hook != null;
    }

    /**
     * The first half: the gradients of the batch's loss, set afresh, with the batch's loss and predictions added to
     * {@code metrics} on the device. A batch of no rows (a process's empty share) gives zero gradients. With
     * accumulation the batch runs as up to {@code accumulate} micro-batches of consecutive rows (sizes as even as
     * can be), each one's mean loss weighted by its share of the rows and its gradients added up: the gradient of
     * the batch's mean loss, with only one micro-batch's activations alive at a time.
     */
    void gradients(Tensor x, Tensor y, RunningMetrics metrics) {
        optimizer.zeroGrad();
        int rows = y.dim(0);
        if (rows == 0) {
            params.forEach(p -> p.zeroGrad(false));
            return;
        }
        int parts = Math.min(accumulate, rows);
        for (int i = 0, start = 0; i < parts; i++) {
            int length = rows / parts + (i < rows % parts ? 1 : 0);
            try (Scope scope = Scope.open()) {
                Tensor xi = parts == 1 ? x : x.narrow(0, start, length);
                Tensor yi = parts == 1 ? y : y.narrow(0, start, length);
                Tensor logits;
                Tensor l;
                // the backward follows the forward's choice of precision
                try (Autocast mixed = Autocast.of(precision)) {
                    logits = model.forward(xi);
                    l = loss.apply(logits, yi);
                }
                try (GradMode.Guard off = GradMode.noGrad()) {
                    metrics.queue(l, logits, yi);
                }
                (parts == 1 ? l : l.mul((double) length / rows)).backward();
            }
            start += length;
        }
    }

    /**
     * Between the halves, outside any graph: the hook, if any, with every parameter given a gradient (zeros where
     * the loss did not reach it), for {@code rows} of a batch of {@code batchRows}.
     */
    void exchange(int rows, int batchRows) {
        if (hook == null) {
            return;
        }
        everyGradient();
        hook.gradients(params, rows, batchRows);
    }

    /** Gives every parameter the loss did not reach a gradient of zeros (kept, outside any graph). */
    void everyGradient() {
        for (Tensor p : params) {
            if (p.grad() == null) {
                p.zeroGrad(false);
            }
        }
    }

    /** The second half: clipping (on the device) and the optimizer's update. */
    void update() {
        try (Scope scope = Scope.open()) {
            if (clipNorm > 0) {
                GradClip.clipByGlobalNorm(params, clipNorm);
            }
            optimizer.step();
        }
    }
}
