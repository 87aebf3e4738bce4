package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * The device work a piece of Java code queues, captured once as a CUDA graph and replayed as one launch
 * ({@code cuStreamBeginCapture} .. {@code cuStreamEndCapture}, {@code cuGraphInstantiate}, {@code cuGraphLaunch}).
 * Capture runs the Java code but no device work: kernels, cuBLAS calls, copies and memsets are recorded with their
 * arguments (device addresses, sizes, scalars) as they are at capture time, and every replay runs them again on the
 * same addresses. Everything allocated while capturing comes from a private pool ({@link CudaAllocator.Pool}) that
 * lives as long as the graph, so those addresses are never handed to anyone else. Values that must change between
 * replays (inputs, the learning rate, step counts) live in device memory written before each replay.
 *
 * <p>Capture uses relaxed mode, and nothing in it may wait for the device (a read, a synchronisation): the driver
 * (and the CUDA emulator) refuses those, and the capture fails with the driver's error and nothing left behind.
 */
final class CudaGraph implements Backend.Graph {
    private final CudaContext ctx;
    private final CudaTransfers transfers;
    private final CudaAllocator.Pool pool;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private final long checkedPerReplay;
    private boolean closed;

    private CudaGraph(CudaContext ctx, CudaTransfers transfers, CudaAllocator.Pool pool, CUgraph graph,
                      CUgraphExec exec, long checkedPerReplay) {
        this.ctx = ctx;
        this.transfers = transfers;
        this.pool = pool;
        this.graph = graph;
        this.exec = exec;
        this.checkedPerReplay = checkedPerReplay;
    }

    /** Captures the device work {@code body} queues on the context's stream. */
    static CudaGraph capture(CudaContext ctx, CudaTransfers transfers, Runnable body) {
        ctx.makeCurrent();
        CudaAllocator allocator = ctx.allocator();
        CudaAllocator.Pool pool = new CudaAllocator.Pool();
        long checkedBefore = transfers.checkedLaunches();
        CUgraph graph = new CUgraph();
        allocator.beginCapture(pool);
        try {
            KernelModule.check(() -> JCudaDriver.cuStreamBeginCapture(ctx.stream(),
                    CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED), () -> "beginning a CUDA graph capture");
            try {
                body.run();
            } catch (RuntimeException | Error e) {
                try {
                    JCudaDriver.cuStreamEndCapture(ctx.stream(), graph);
                    JCudaDriver.cuGraphDestroy(graph);
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
            KernelModule.check(() -> JCudaDriver.cuStreamEndCapture(ctx.stream(), graph),
                    () -> "ending a CUDA graph capture (did the captured code wait for the device?)");
        } catch (RuntimeException | Error e) {
            allocator.endCapture();
            allocator.closePool(pool);
            throw e;
        }
        allocator.endCapture();
        CUgraphExec exec = new CUgraphExec();
        try {
            KernelModule.check(() -> JCudaDriver.cuGraphInstantiate(exec, graph, 0), () -> "instantiating a CUDA graph");
        } catch (RuntimeException e) {
            JCudaDriver.cuGraphDestroy(graph);
            allocator.closePool(pool);
            throw e;
        }
        return new CudaGraph(ctx, transfers, pool, graph, exec, transfers.checkedLaunches() - checkedBefore);
    }

    /** Queues one run of the captured work (one launch); returns at once. */
    @Override
    public void replay() {
        if (closed) {
            throw new IllegalStateException("replay: this CUDA graph was closed");
        }
        ctx.makeCurrent();
        KernelModule.check(() -> JCudaDriver.cuGraphLaunch(exec, ctx.stream()), () -> "launching a CUDA graph");
        transfers.countCheckedLaunches(checkedPerReplay);
    }

    /** Destroys the graph (after the replays queued so far) and gives its private memory back to the allocator. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ctx.makeCurrent();
        KernelModule.check(() -> JCudaDriver.cuGraphExecDestroy(exec), () -> "destroying a CUDA graph");
        KernelModule.check(() -> JCudaDriver.cuGraphDestroy(graph), () -> "destroying a CUDA graph");
        ctx.allocator().closePool(pool);
    }
}
