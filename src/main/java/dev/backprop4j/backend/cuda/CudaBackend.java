package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.Conversions;
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
 * <p>Kernels cannot throw: an out-of-range label or index sets a device flag, which the next waiting call
 * reads and turns into the same IllegalArgumentException the CPU backend throws (as PyTorch reports
 * device-side errors at the next synchronisation).
 */
final class CudaBackend implements Backend {
    private static final Map<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

    /** The kinds of deferred index checks. */
    private enum Check { CROSS_ENTROPY, GATHER, SCATTER }

    /** Index checks pending at once before a read is forced; each launch gets its own 8-byte flag. */
    private static final int SLOTS = 16;

    private final CudaContext ctx;
    private final CudaKernels kernels;
    private final CudaBlas blas;
    private final CudaMemcpy memcpy;
    private final CudaBuffer flags;
    private final CudaBuffer counter;
    private final Check[] armedKind = new Check[SLOTS];
    private final long[] armedLimit = new long[SLOTS];
    private int armed;

    private CudaBackend(CudaContext ctx) {
        this.ctx = ctx;
        ctx.makeCurrent();
        this.kernels = CudaKernels.load();
        this.blas = CudaBlas.get(ctx);
        this.memcpy = new CudaMemcpy(ctx);
        this.flags = ctx.allocator().allocate(DType.INT32, 2L * SLOTS);
        this.counter = ctx.allocator().allocate(DType.INT32, 2);
    }

    /** The backend of device {@code index} (created on first use). */
    static CudaBackend get(int index) {
        return BACKENDS.computeIfAbsent(index, i -> new CudaBackend(CudaContext.get(i)));
    }

    /** Allocator statistics of this device (bytes in use, cached, peak, allocations). */
    Cuda.MemoryStats memoryStats() {
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

    // ---- host transfers -------------------------------------------------------------------------

    @Override
    public void write(Buffer dst, float[] src) {
        checkWrite(dst, DType.FLOAT32, src.length);
        memcpy.upload(ptr(dst), 4L * src.length, b -> b.asFloatBuffer().put(src));
    }

    @Override
    public void write(Buffer dst, double[] src) {
        checkWrite(dst, DType.FLOAT64, src.length);
        memcpy.upload(ptr(dst), 8L * src.length, b -> b.asDoubleBuffer().put(src));
    }

    @Override
    public void write(Buffer dst, int[] src) {
        checkWrite(dst, DType.INT32, src.length);
        memcpy.upload(ptr(dst), 4L * src.length, b -> b.asIntBuffer().put(src));
    }

    /** An upload past the block would corrupt a neighbour silently: the CPU backend fails here, so does this one. */
    private static void checkWrite(Buffer dst, DType type, int n) {
        if (dst.dtype() != type || dst.length() != n) {
            throw new IllegalArgumentException("write: " + n + " " + type + " values into a buffer of " + dst.length()
                    + " " + dst.dtype() + " on " + dst.device());
        }
    }

    @Override
    public float[] readFloats(Buffer src) {
        return switch (src.dtype()) {
            case FLOAT32 -> {
                verifyChecks();
                float[] out = new float[(int) src.length()];
                memcpy.download(ptr(src), Pointer.to(out), 4L * out.length);
                yield out;
            }
            case FLOAT64 -> Conversions.toFloats(readDoubles(src));
            case INT32 -> Conversions.toFloats(readInts(src));
        };
    }

    @Override
    public double[] readDoubles(Buffer src) {
        return switch (src.dtype()) {
            case FLOAT64 -> {
                verifyChecks();
                double[] out = new double[(int) src.length()];
                memcpy.download(ptr(src), Pointer.to(out), 8L * out.length);
                yield out;
            }
            case FLOAT32 -> Conversions.toDoubles(readFloats(src));
            case INT32 -> Conversions.toDoubles(readInts(src));
        };
    }

    @Override
    public int[] readInts(Buffer src) {
        verifyChecks();
        if (src.dtype() != DType.INT32) {
            throw new IllegalArgumentException("readInts: buffer holds " + src.dtype());
        }
        int[] out = new int[(int) src.length()];
        memcpy.download(ptr(src), Pointer.to(out), 4L * out.length);
        return out;
    }

    // ---- memory ---------------------------------------------------------------------------------

    @Override
    public void fill(Buffer out, double value) {
        kernels.layout.fill(out.dtype(), ptr(out), out.length(), value, stream());
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
                     long strideA, Buffer b, long strideB, double beta, Buffer c, long strideC) {
        ctx.makeCurrent();
        blas.gemm(transA, transB, batch, m, n, k, alpha, cuda(a), strideA, cuda(b), strideB, beta, cuda(c), strideC);
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
    public void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, Buffer loss, Buffer probs) {
        CUdeviceptr flag = arm(Check.CROSS_ENTROPY, classes);
        kernels.softmax.crossEntropyForward(logits.dtype(), ptr(logits), ptr(labels), rows, classes, ptr(loss),
                ptr(probs), flag, stream());
    }

    @Override
    public void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, int rows, int classes, Buffer dlogits) {
        kernels.softmax.crossEntropyBackward(probs.dtype(), ptr(probs), ptr(labels), ptr(dloss), rows, classes,
                ptr(dlogits), stream());
    }

    @Override
    public void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out) {
        CUdeviceptr flag = arm(Check.GATHER, cols);
        kernels.layout.gatherRows(x.dtype(), ptr(x), ptr(idx), rows, cols, ptr(out), flag, stream());
    }

    @Override
    public void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx) {
        CUdeviceptr flag = arm(Check.SCATTER, cols);
        kernels.layout.scatterRows(dy.dtype(), ptr(dy), ptr(idx), rows, cols, ptr(dx), flag, stream());
    }

    @Override
    public long countEqual(Buffer a, Buffer b, long n) {
        verifyChecks();
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
    public void sgdStep(Buffer param, Buffer grad, Buffer velocity, double lr, double momentum, double dampening,
                        double weightDecay, boolean nesterov, boolean firstStep) {
        kernels.optimizer.sgdStep(param.dtype(), ptr(param), ptr(grad), ptrOrNull(velocity), param.length(), lr,
                momentum, dampening, weightDecay, nesterov, firstStep, stream());
    }

    @Override
    public void adamStep(Buffer param, Buffer grad, Buffer m, Buffer v, double lr, double beta1, double beta2,
                         double eps, double weightDecay, boolean decoupled, long step) {
        kernels.optimizer.adamStep(param.dtype(), ptr(param), ptr(grad), ptr(m), ptr(v), param.length(), lr, beta1,
                beta2, eps, weightDecay, decoupled, step, stream());
    }

    @Override
    public void synchronize() {
        ctx.synchronize();
        verifyChecks();
    }

    // ---- deferred index checks ------------------------------------------------------------------------

    /** A fresh flag for one checked launch of kind c whose valid range is [0, limit). */
    private synchronized CUdeviceptr arm(Check c, long limit) {
        if (armed == SLOTS) {
            verifyChecks();
        }
        CUdeviceptr flag = flags.pointer(2L * armed);
        IndexCheck.reset(flag, stream());
        armedKind[armed] = c;
        armedLimit[armed] = limit;
        armed++;
        return flag;
    }

    /**
     * Reads every armed flag in one copy (waiting for the stream) and throws for the first bad label or index, in
     * launch order.
     */
    private synchronized void verifyChecks() {
        int n = armed;
        armed = 0;
        if (n == 0) {
            return;
        }
        ctx.makeCurrent();
        long[] values = IndexCheck.readAll(flags.pointer(), n);
        for (int i = 0; i < n; i++) {
            long flag = values[i];
            String op = switch (armedKind[i]) {
                case CROSS_ENTROPY -> "cross_entropy";
                case GATHER -> "gather";
                case SCATTER -> "scatter";
            };
            IndexCheck.throwIfBad(flag, op, armedKind[i] == Check.CROSS_ENTROPY ? "label" : "index", armedLimit[i]);
        }
    }

    @Override
    public String toString() {
        return "CudaBackend(" + ctx + ")";
    }
}
