package dev.backprop4j.train;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Scope;
import dev.backprop4j.tensor.Tensor;

/**
 * A training step captured once as a CUDA graph and replayed for every batch of the same shape, as PyTorch users do
 * by hand with {@code torch.cuda.graphs}: the whole step (forward, loss, backward, optimizer update, running totals)
 * becomes one launch.
 *
 * <p>The graph reads its batch from static input and label tensors that each batch is copied into (two copies on
 * the device); everything the step allocates comes from the graph's private memory (see {@link Backend#capture});
 * the learning rate and the step counts are device values the optimizer writes before each replay
 * ({@code Optimizer.advance}), so schedules keep working. A step of a new shape (the last, partial batch) runs
 * eagerly and drops the graph; the next step of a shape seen on the step before is captured again. The first step
 * of a shape always runs eagerly: it allocates the optimizer's state and lets every library initialise outside the
 * capture.
 */
final class GraphedStep implements AutoCloseable {

    /** The step's device work on a batch, queued: eagerly, or once inside the capture. */
    interface Work {
        void run(Tensor x, Tensor y);
    }

    private final Work eager;
    private final Work captured;
    private final Runnable advance;
    private final RunningMetrics totals;
    private Backend.Graph graph;
    private Tensor staticX;
    private Tensor staticY;
    private Shape lastX;
    private Shape lastY;
    private long captures;
    private long replays;

    /**
     * @param eager    a whole eager step (the optimizer's advance included)
     * @param captured the step's device work for the capture: the optimizer's update but not its advance, the
     *                 totals queued but not counted
     * @param advance  what must run on the host before each replay: the schedule and {@code Optimizer.advance}
     */
    GraphedStep(Work eager, Work captured, Runnable advance, RunningMetrics totals) {
        this.eager = eager;
        this.captured = captured;
        this.advance = advance;
        this.totals = totals;
    }

    /** One step on a batch: a replay when a graph of its shape exists or can be captured, else eager. */
    void step(Tensor x, Tensor y) {
        if (graph != null && !(x.shape().equals(staticX.shape()) && y.shape().equals(staticY.shape()))) {
            drop();
        }
        boolean sameAsLast = x.shape().equals(lastX) && y.shape().equals(lastY);
        lastX = x.shape();
        lastY = y.shape();
        if (graph == null && !sameAsLast) {
            eager.run(x, y);
            return;
        }
        if (graph == null) {
            staticX = Tensor.empty(x.shape(), x.dtype(), x.device());
            staticY = Tensor.empty(y.shape(), y.dtype(), y.device());
            Scope.detach(staticX);
            Scope.detach(staticY);
        }
        staticX.copyFrom(x);
        staticY.copyFrom(y);
        advance.run();
        if (graph == null) {
            try {
                graph = x.backend().capture(() -> captured.run(staticX, staticY));
            } catch (RuntimeException | Error e) {
                closeInputs();
                throw e;
            }
            captures++;
        }
        graph.replay();
        replays++;
        totals.replayed();
    }

    /** Graphs captured so far (one per run of steps of one shape). */
    long captures() {
        return captures;
    }

    /** Steps run as replays so far. */
    long replays() {
        return replays;
    }

    private void drop() {
        graph.close();
        graph = null;
        closeInputs();
    }

    private void closeInputs() {
        staticX.close();
        staticY.close();
        staticX = null;
        staticY = null;
    }

    @Override
    public void close() {
        if (graph != null) {
            drop();
        }
    }
}
