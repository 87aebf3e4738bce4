package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.MemoryStats;
import dev.backprop4j.backend.PendingRead;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Shape;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CUDA implementation of {@link Backend} for one device: memory from the context's caching allocator,
 * GEMM through cuBLAS ({@link CudaBlas}), every other primitive through one of our PTX kernels
 * ({@link CudaKernels}), all on the device's single stream. Calls return as soon as the work is queued;
 * only the {@code read*} methods, {@link #countEqual} and {@link #synchronize} wait.
 *
 * <p>Kernels cannot throw: an out-of-range label or index is written to a sticky device record
 * ({@link IndexCheck}), which the next waiting call, or the next non-blocking {@link #readLater}, reads and turns
 * into the same IllegalArgumentException the CPU backend throws (as PyTorch reports device-side errors at the next
 * synchronisation). A steady training step therefore never waits for the host to check its labels.
 */
final class CudaBackend implements Backend {
    private static final Map<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

    private final CudaContext ctx;
    private final CudaKernels kernels;
    private final CudaBlas blas;
    private final CudaMemcpy memcpy;
    private final CudaTransfers transfers;
    private final CudaBuffer counter;
    /** The last-block ticket of the kernels that finish with their last block (kernels/common.cuh): 0 between launches. */
    private final CudaBuffer ticket;

    private CudaBackend(CudaContext ctx) {
        this.ctx = ctx;
        ctx.makeCurrent();
        this.kernels = CudaKernels.load();
        this.blas = CudaBlas.get(ctx);
        this.memcpy = new CudaMemcpy(ctx);
        this.transfers = new CudaTransfers(ctx, memcpy);
        this.counter = ctx.allocator().allocate(DType.INT32, 2);
        this.ticket = ctx.allocator().allocate(DType.INT32, 1);
        fill(ticket, 0);
    }

    /** The backend of device {@code index} (created on first use). */
    static CudaBackend get(int index) {
        return BACKENDS.computeIfAbsent(index, i -> new CudaBackend(CudaContext.get(i)));
    }

    /** Allocator statistics of this device (bytes in use, cached, peak, allocations). */
    MemoryStats memoryStats() {
        return ctx.allocator().stats();
    }

    private static CudaBuffer cuda(Buffer b) {
        if (!(b instanceof CudaBuffer c)) {
            throw new IllegalArgumentException("expected a CUDA buffer, got one on " + b.device());
        }
        return c;
    }

    private static CUdeviceptr ptr(Buffer b) {
        return cuda(b).pointer();
    }

    private static CUdeviceptr ptrOrNull(Buffer b) {
        return b == null ? null : cuda(b).pointer();
    }

    private CUstream stream() {
        ctx.makeCurrent();
        return ctx.stream();
    }

    @Override
    public Device device() {
        return ctx.device();
    }

    @Override
    public Buffer allocate(DType dtype, long length) {
        ctx.makeCurrent();
        return ctx.allocator().allocate(dtype, length);
    }

    // ---- host transfers: CudaTransfers ----------------------------------------------------------------

    @Override
    public void write(Buffer dst, float[] src) {
        transfers.write(dst, src);
    }

    @Override
    public void write(Buffer dst, double[] src) {
        transfers.write(dst, src);
    }

    @Override
    public void write(Buffer dst, int[] src) {
        transfers.write(dst, src);
    }

    @Override
    public void write(Buffer dst, short[] bf16) {
        transfers.write(dst, bf16);
    }

    @Override
    public float[] readFloats(Buffer src) {
        return transfers.readFloats(src);
    }

    @Override
    public double[] readDoubles(Buffer src) {
        return transfers.readDoubles(src);
    }

    @Override
    public int[] readInts(Buffer src) {
        return transfers.readInts(src);
    }

    @Override
    public short[] readBf16(Buffer src) {
        return transfers.readBf16(src);
    }

    @Override
    public PendingRead readLater(Buffer src) {
        return transfers.readLater(src);
    }

    // ---- memory ---------------------------------------------------------------------------------

    @Override
    public void fill(Buffer out, double value) {
        kernels.layout.fillFast(out.dtype(), ptr(out), out.length(), value, stream());
    }

    @Override
    public void copy(Buffer src, long srcOffset, Buffer dst, long dstOffset, long n) {
        ctx.makeCurrent();
        long bytes = n * src.dtype().bytes();
        boolean overlap = src == dst && srcOffset != dstOffset && srcOffset < dstOffset + n && dstOffset < srcOffset + n;
        if (overlap) {
            // cuMemcpyDtoD leaves overlapping ranges undefined; System.arraycopy (the reference) does not
            CudaBuffer tmp = ctx.allocator().allocate(src.dtype(), n);
            memcpy.deviceToDevice(cuda(src).pointer(srcOffset), tmp.pointer(), bytes);
            memcpy.deviceToDevice(tmp.pointer(), cuda(dst).pointer(dstOffset), bytes);
            tmp.release();
            return;
        }
        memcpy.deviceToDevice(cuda(src).pointer(srcOffset), cuda(dst).pointer(dstOffset), bytes);
    }

    @Override
    public void cast(Buffer src, Buffer dst) {
        kernels.layout.cast(src.dtype(), ptr(src), dst.dtype(), ptr(dst), src.length(), stream());
    }

    @Override
    public void narrow(Buffer src, int outer, int srcDim, int inner, int srcStart, Buffer dst, int dstDim, int dstStart,
                       int len) {
        kernels.layout.narrow(src.dtype(), ptr(src), outer, srcDim, inner, srcStart, ptr(dst), dstDim, dstStart, len,
                stream());
    }

    @Override
    public void broadcast(Buffer x, Shape xShape, Buffer out, Shape outShape) {
        kernels.layout.broadcast(x.dtype(), ptr(x), xShape, ptr(out), outShape, stream());
    }

    @Override
    public void transpose(Buffer x, int batch, int rows, int cols, Buffer out) {
        kernels.layout.transpose(x.dtype(), ptr(x), batch, rows, cols, ptr(out), stream());
    }

    // ---- elementwise ----------------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Buffer x, Buffer out, double p1, double p2) {
        kernels.elementwise.unaryForward(op, x.dtype(), ptr(x), ptr(out), x.length(), p1, p2, stream());
    }

    @Override
    public void unaryBackward(UnaryOp op, Buffer x, Buffer y, Buffer dy, Buffer dx, double p1, double p2) {
        kernels.elementwise.unaryBackward(op, dy.dtype(), ptrOrNull(x), ptrOrNull(y), ptr(dy), ptr(dx), dy.length(),
                p1, p2, stream());
    }

    @Override
    public void binary(BinaryOp op, Buffer a, Shape aShape, Buffer b, Shape bShape, Buffer out, Shape outShape) {
        kernels.elementwise.binary(op, a.dtype(), ptr(a), aShape, ptr(b), bShape, ptr(out), outShape, stream());
    }

    // ---- gemm -----------------------------------------------------------------------------------

    @Override
    public void gemm(boolean transA, boolean transB, int batch, int m, int n, int k, double alpha, Buffer a,
                     long strideA, Buffer b, long strideB, double beta, Buffer c, long strideC, boolean tf32) {
        blas.gemm(transA, transB, batch, m, n, k, alpha, cuda(a), strideA, cuda(b), strideB, beta, cuda(c), strideC,
                tf32);
    }

    // ---- reductions and the softmax family --------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out) {
        int parts = ReduceKernels.parts(outer, n, inner);
        CudaBuffer scratch = parts > 1 ? ctx.allocator().allocate(DType.FLOAT64, (long) outer * parts * inner) : null;
        kernels.reduce.reduce(op, x.dtype(), ptr(x), outer, n, inner, ptr(out), ptrOrNull(scratch), stream());
        if (scratch != null) {
            scratch.release(); // stream order: whatever reuses the block runs after the finish launch
        }
    }

    @Override
    public void argmax(Buffer x, int outer, int n, int inner, Buffer out) {
        kernels.reduce.argmax(x.dtype(), ptr(x), outer, n, inner, ptr(out), stream());
    }

    @Override
    public void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y) {
        kernels.softmax.softmax(x.dtype(), ptr(x), outer, n, inner, log, ptr(y), stream());
    }

    @Override
    public void softmaxBackward(Buffer y, Buffer dy, int outer, int n, int inner, boolean log, Buffer dx) {
        kernels.softmax.softmaxBackward(y.dtype(), ptr(y), ptr(dy), outer, n, inner, log, ptr(dx), stream());
    }

    @Override
    public void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, double scale, Buffer loss,
                             Buffer probs) {
        CUdeviceptr flag = transfers.checked(IndexCheck.Kind.CROSS_ENTROPY);
        kernels.softmax.crossEntropyForward(logits.dtype(), ptr(logits), ptr(labels), rows, classes, scale, ptr(loss),
                ptr(probs), flag, stream());
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, double scale, int rows, int classes,
                                     Buffer dlogits) {
        kernels.softmax.crossEntropyBackward(probs.dtype(), ptr(probs), ptr(labels), ptr(dloss), dloss.length() == 1,
                scale, rows, classes, ptr(dlogits), stream());
    }

    @Override
    public void accumulateMetrics(Buffer loss, Buffer logits, Buffer labels, int rows, int classes, Buffer metrics) {
        kernels.reduce.accumulateMetrics(logits.dtype(), ptr(loss), ptr(logits), ptrOrNull(labels), rows, classes, ptr(metrics), stream());
    }

    @Override
    public void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out) {
        CUdeviceptr flag = transfers.checked(IndexCheck.Kind.GATHER);
        kernels.layout.gatherRows(x.dtype(), ptr(x), ptr(idx), rows, cols, ptr(out), flag, stream());
    }

    @Override
    public void embedding(Buffer table, Buffer idx, int n, int num, int dim, Buffer out) {
        kernels.embedding.embedding(table.dtype(), ptr(table), ptr(idx), n, num, dim, ptr(out),
                transfers.checked(IndexCheck.Kind.EMBEDDING), stream());
    }

    @Override
    public void embeddingBackward(Buffer dy, Buffer idx, int n, int num, int dim, Buffer dtable) {
        fill(dtable, 0);
        kernels.embedding.embeddingBackward(dy.dtype(), ptr(dy), ptr(idx), n, num, dim, ptr(dtable), stream());
    }

    @Override
    public void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx) {
        CUdeviceptr flag = transfers.checked(IndexCheck.Kind.SCATTER);
        kernels.layout.scatterRows(dy.dtype(), ptr(dy), ptr(idx), rows, cols, ptr(dx), flag, stream());
    }

    @Override
    public long countEqual(Buffer a, Buffer b, long n) {
        transfers.verifyChecks();
        kernels.reduce.countEqual(ptr(a), ptr(b), n, counter.pointer(), stream());
        long[] host = new long[1];
        memcpy.download(counter.pointer(), Pointer.to(host), 8);
        return host[0];
    }

    // ---- random and optimizers ----------------------------------------------------------------------

    @Override
    public void random(Buffer out, Distribution dist, double a, double b, long seed, long offset) {
        kernels.random.random(out.dtype(), ptr(out), out.length(), dist, a, b, seed, offset, stream());
    }

    @Override
    public void random(Buffer out, Distribution dist, double a, double b, long seed, Buffer counter) {
        kernels.random.randomAt(out.dtype(), ptr(out), out.length(), dist, a, b, seed, ptr(counter), ticket.pointer(),
                stream());
    }

    // ---- fused layer epilogues ------------------------------------------------------------------------

    @Override
    public void biasActivation(UnaryOp op, Buffer z, Buffer bias, Buffer residual, int rows, int cols, double p1,
                               double p2, Buffer y) {
        kernels.elementwise.biasActivation(op, z.dtype(), ptr(z), ptrOrNull(bias), ptrOrNull(residual), rows, cols, p1,
                p2, ptr(y), y.dtype(), stream());
    }

    @Override
    public void biasActivationBackward(UnaryOp op, Buffer z, Buffer y, Buffer dy, int rows, int cols, double p1,
                                       double p2, Buffer dz, Buffer dbias) {
        if (dbias == null && (y == null || y.dtype() == dy.dtype())) { // no sums: the elementwise kernel
            if (op != null) {
                unaryBackward(op, z != null ? z : op == UnaryOp.RELU ? y : null, y, dy, dz, p1, p2); // y > 0 iff z > 0
            } else if (dz != null && dz != dy) {
                copy(dy, 0, dz, 0, (long) rows * cols);
            }
            return;
        }
        int chunks = dbias == null ? 1 : ElementwiseKernels.biasChunks(rows, cols); // scratch for the sums only
        CudaBuffer scratch = chunks > 1 ? ctx.allocator().allocate(DType.FLOAT64, (long) chunks * cols) : null;
        kernels.elementwise.biasActivationBackward(op, dy.dtype(), ptrOrNull(z), ptrOrNull(y), y == null ? null
                : y.dtype(), ptr(dy), rows, cols, p1, p2, ptrOrNull(dz), ptrOrNull(dbias), ptrOrNull(scratch),
                kernels.reduce, stream());
        if (scratch != null) {
            scratch.release(); // stream order: whatever reuses the block runs after the finish launch
        }
    }

    @Override
    public void layerNorm(Buffer x, Buffer gamma, Buffer beta, int rows, int cols, double eps, Buffer y, Buffer mean,
                          Buffer rstd) {
        kernels.norm.layerNorm(x.dtype(), ptr(x), ptrOrNull(gamma), ptrOrNull(beta), rows, cols, eps, ptr(y),
                ptr(mean), ptr(rstd), stream());
    }

    @Override
    public void layerNormBackward(Buffer x, Buffer mean, Buffer rstd, Buffer gamma, Buffer dy, int rows, int cols,
                                  Buffer dx, Buffer dgamma, Buffer dbeta) {
        kernels.norm.layerNormBackward(x.dtype(), ptr(x), ptr(mean), ptr(rstd), ptrOrNull(gamma), ptr(dy), rows, cols,
                ptrOrNull(dx), ptrOrNull(dgamma), ptrOrNull(dbeta), stream());
    }

    @Override
    public void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer lr, Buffer steps, double momentum,
                        double dampening, double weightDecay, boolean nesterov) {
        OptimizerKernels.Tensors t = OptimizerKernels.Tensors.updated(params, grads, velocities, null, steps);
        kernels.optimizer.sgdStep(params[0].dtype(), t, ptr(lr), ticket.pointer(), momentum, dampening, weightDecay,
                nesterov, stream()); // nothing is launched when no parameter has a gradient
    }

    @Override
    public void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer lr, Buffer steps,
                         double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        OptimizerKernels.Tensors t = OptimizerKernels.Tensors.updated(params, grads, m, v, steps);
        kernels.optimizer.adamStep(params[0].dtype(), t, ptr(lr), ticket.pointer(), beta1, beta2, eps, weightDecay,
                decoupled, stream()); // nothing is launched when no parameter has a gradient
    }

    @Override
    public void clipGradNorm(Buffer[] grads, double maxNorm, Buffer norm) {
        if (grads.length == 0) {
            fill(norm, 0);
            return;
        }
        OptimizerKernels.Tensors t = OptimizerKernels.Tensors.gradients(grads);
        CudaBuffer partial = ctx.allocator().allocate(DType.FLOAT64, OptimizerKernels.partials(t));
        try {
            kernels.optimizer.clipGradNorm(grads[0].dtype(), t, maxNorm, ptr(norm), partial.pointer(),
                    ticket.pointer(), stream());
        } finally {
            partial.release(); // stream order: whatever reuses the block runs after these launches
        }
    }

    @Override
    public Graph capture(Runnable body) {
        return CudaGraph.capture(ctx, transfers, body);
    }

    @Override
    public void synchronize() {
        ctx.synchronize();
        transfers.verifyChecks();
    }

    @Override
    public String toString() {
        return "CudaBackend(" + ctx + ")";
    }
}
