package dev.backprop4j.train;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/**
 * A {@link TrainStep} captured once as a CUDA graph and replayed for every batch of the same shape, as PyTorch users
 * do by hand with {@code torch.cuda.graphs}: forward, loss, metrics, backward, clipping and update become one launch.
 * With a {@link GradientHook} the step is two graphs, one per half, and the hook runs between their replays.
 *
 * <p>The graph reads its batch from static input and label tensors that each batch is copied into (two copies on
 * the device); everything the step allocates comes from the graph's private memory (see {@link Backend#capture}).
 * The step writes nothing from the host: the learning rate is a device value the trainer sets before each step,
 * and the optimizer's step counts, dropout's random counters and the clipping norm live and change on the device,
 * so a replay computes bit for bit what an eager step computes. A step of a new shape (the last, partial batch)
 * runs eagerly and drops the graph; the next step of a shape seen on the step before is captured again. The first
 * step of a shape always runs eagerly: it allocates the gradients, the optimizer's state and the metrics' totals,
 * and lets every library initialise outside the capture.
 */
final class GraphedStep implements AutoCloseable {
    private final TrainStep step;
    private final RunningMetrics metrics;
    private Backend.Graph first;
    private Backend.Graph second;
    private Tensor staticX;
    private Tensor staticY;
    private Shape lastX;
    private Shape lastY;
    private long captures;
    private long replays;

    /** Replays of {@code step} whose metrics go to {@code metrics}. */
    GraphedStep(TrainStep step, RunningMetrics metrics) {
        this.step = step;
        this.metrics = metrics;
    }

    /**
     * One step on a batch, {@code batchRows} rows over all processes: a replay when a graph of its shape exists or
     * can be captured now, else eager.
     */
    void run(Tensor x, Tensor y, int batchRows) {
        if (first != null && !(x.shape().equals(staticX.shape()) && y.shape().equals(staticY.shape()))) {
            drop();
        }
        boolean sameAsLast = x.shape().equals(lastX) && y.shape().equals(lastY);
        lastX = x.shape();
        lastY = y.shape();
        if (first == null && !sameAsLast) {
            step.gradients(x, y, metrics);
            step.exchange(y.dim(0), batchRows);
            step.update();
            return;
        }
        if (first == null) {
            staticX = Tensor.empty(x.shape(), x.dtype(), x.device());
            staticY = Tensor.empty(y.shape(), y.dtype(), y.device());
            Scope.detach(staticX);
            Scope.detach(staticY);
        }
        staticX.copyFrom(x);
        staticY.copyFrom(y);
        if (first == null) {
            capture(x.backend());
        }
        first.replay();
        if (second != null) {
            step.exchange(y.dim(0), batchRows);
            second.replay();
        }
        replays++;
    }

    /** One graph of the whole step, or two (the halves) when a hook runs between them. */
    private void capture(Backend backend) {
        try {
            if (step.hasHook()) {
                first = backend.capture(() -> step.gradients(staticX, staticY, metrics));
                step.everyGradient(); // as the exchange before each replay will: the update must see them all
                second = backend.capture(step::update);
            } else {
                first = backend.capture(() -> {
                    step.gradients(staticX, staticY, metrics);
                    step.update();
                });
            }
        } catch (RuntimeException | Error e) {
            drop();
            throw e;
        }
        captures++;
    }

    /** Graphs captured so far (one per run of steps of one shape). */
    long captures() {
        return captures;
    }

    /** Steps run as replays so far. */
    long replays() {
        return replays;
    }

    /** Drops the graphs and static inputs (the counts stay): the next step of a shape seen last captures again. */
    void drop() {
        if (first != null) {
            first.close();
            first = null;
        }
        if (second != null) {
            second.close();
            second = null;
        }
        if (staticX != null) {
            staticX.close();
            staticY.close();
            staticX = null;
            staticY = null;
        }
    }

    @Override
    public void close() {
        drop();
    }
}
