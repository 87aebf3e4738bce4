package dev.backprop4j.backend;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Shape;

/**
 * The primitive kernels a device must provide: everything tensors, ops, the tape and the optimizers
 * do to memory goes through here. The CPU backend is the executable specification; every other backend
 * must match it (the parity tests check each primitive).
 *
 * <p>Conventions: buffers are contiguous row-major; outputs come first after the op selector where
 * an op reads and writes; "axis" layouts are given as (outer, n, inner), the sizes before, of and after
 * the axis; calls are asynchronous where the device allows and ordered on one stream, and only the
 * {@code read*} methods wait for results. Output buffers may alias inputs only for elementwise ops
 * of equal shapes (in-place updates).
 */
public interface Backend {

    Device device();

    /** A new buffer of {@code length} elements; its contents are undefined. */
    Buffer allocate(DType dtype, long length);

    // ---- host transfers -------------------------------------------------------------------------

    /** Copies host data into {@code dst} (same dtype, same length). */
    void write(Buffer dst, float[] src);

    void write(Buffer dst, double[] src);

    void write(Buffer dst, int[] src);

    /** Copies bfloat16 bit patterns ({@link dev.backprop4j.core.BFloat16}) into a BFLOAT16 {@code dst}. */
    void write(Buffer dst, short[] bf16);

    /** The buffer's values converted to float (waits for pending work). */
    float[] readFloats(Buffer src);

    /** The buffer's values converted to double (waits for pending work). */
    double[] readDoubles(Buffer src);

    /** The values of an INT32 buffer (waits for pending work). */
    int[] readInts(Buffer src);

    /** The bit patterns of a BFLOAT16 buffer (waits for pending work). */
    short[] readBf16(Buffer src);

    /**
     * Starts copying the buffer's values to the host behind the queued work, without waiting; the result converts
     * them to double. What the device reported before the copy (an out-of-range label) is thrown by its get().
     */
    PendingRead readLater(Buffer src);

    // ---- memory ---------------------------------------------------------------------------------

    /** out[i] = value for all i. */
    void fill(Buffer out, double value);

    /** dst[dstOffset + i] = src[srcOffset + i] for i < n; same dtype. */
    void copy(Buffer src, long srcOffset, Buffer dst, long dstOffset, long n);

    /** dst[i] = (dst dtype) src[i]; float to int truncates toward zero. */
    void cast(Buffer src, Buffer dst);

    /**
     * Copies a block along an axis: for o < outer, j < len, i < inner,
     * dst[o, dstStart + j, i] = src[o, srcStart + j, i], where src has srcDim and dst has dstDim entries on the axis.
     */
    void narrow(Buffer src, int outer, int srcDim, int inner, int srcStart,
                Buffer dst, int dstDim, int dstStart, int len);

    /** out = x repeated along the axes where xShape has size 1 (or lacks them) up to outShape. */
    void broadcast(Buffer x, Shape xShape, Buffer out, Shape outShape);

    /** out[b, j, i] = x[b, i, j] for a batch of rows x cols matrices. */
    void transpose(Buffer x, int batch, int rows, int cols, Buffer out);

    // ---- elementwise ----------------------------------------------------------------------------

    /** out = f(x; p1, p2) elementwise ({@link UnaryOp}); out may be x. */
    void unary(UnaryOp op, Buffer x, Buffer out, double p1, double p2);

    /**
     * dx = dy * f'(x) elementwise, the local gradient of {@link #unary} times the upstream gradient.
     * {@code y} is the forward output (sigmoid and tanh use it); either may be null where f' does not need it.
     */
    void unaryBackward(UnaryOp op, Buffer x, Buffer y, Buffer dy, Buffer dx, double p1, double p2);

    /** out = a (op) b with NumPy broadcasting from aShape and bShape to outShape. */
    void binary(BinaryOp op, Buffer a, Shape aShape, Buffer b, Shape bShape, Buffer out, Shape outShape);

    // ---- matrix multiply ------------------------------------------------------------------------

    /**
     * For each of {@code batch} matrices: C = alpha op(A) op(B) + beta C, with op(A) [m,k], op(B) [k,n], C [m,n],
     * all row-major; op(A) = A^T when transA (A stored [k,m]); likewise B. Matrix b of the batch starts at
     * element b*stride of its buffer (stride 0 shares one matrix across the batch). beta = 0 ignores C's contents.
     * A, B and C share a dtype, or (mixed precision) A and B are BFLOAT16 and C FLOAT32: the bfloat16 values
     * multiplied exactly and summed in float32, as tensor cores do. With {@code tf32} (float32 A and B) the inputs
     * are rounded to TF32 first ({@link Conversions#tf32}), as TF32 tensor cores take them; FP32 accumulation.
     */
    void gemm(boolean transA, boolean transB, int batch, int m, int n, int k, double alpha, Buffer a, long strideA,
              Buffer b, long strideB, double beta, Buffer c, long strideC, boolean tf32);

    // ---- reductions and the softmax family --------------------------------------------------------

    /** out[o, i] = reduce over j of x[o, j, i], j < n; out has outer * inner elements. */
    void reduce(ReduceOp op, Buffer x, int outer, int n, int inner, Buffer out);

    /** out[o, i] = the first j maximising x[o, j, i] (INT32 output). */
    void argmax(Buffer x, int outer, int n, int inner, Buffer out);

    /** y = softmax (or log_softmax when log) of x along the axis (outer, n, inner). */
    void softmax(Buffer x, int outer, int n, int inner, boolean log, Buffer y);

    /**
     * The gradient through {@link #softmax} from its output y: softmax dx = y (dy - sum(dy y));
     * log_softmax dx = dy - e^y sum(dy).
     */
    void softmaxBackward(Buffer y, Buffer dy, int outer, int n, int inner, boolean log, Buffer dx);

    /**
     * Fused softmax cross-entropy from logits [rows, classes] and INT32 labels [rows]:
     * loss[r] = scale (logsumexp(logits[r]) - logits[r, label[r]]), and probs = softmax(logits) for the backward
     * (scale 1 / rows makes the sum of loss the batch mean). A label outside [0, classes) fails naming the row and
     * label (on a GPU at the next read, see {@link #readLater}).
     */
    void crossEntropy(Buffer logits, Buffer labels, int rows, int classes, double scale, Buffer loss, Buffer probs);

    /**
     * dlogits[r, c] = scale dloss[r] (probs[r, c] - [c == label[r]]), where dloss has rows elements, or one that
     * every row shares (the gradient of a reduced loss).
     */
    void crossEntropyBackward(Buffer probs, Buffer labels, Buffer dloss, double scale, int rows, int classes,
                              Buffer dlogits);

    /**
     * Adds a training batch to running totals on the device: metrics (FLOAT64 [3]) += {loss[0] rows, the number of
     * rows whose first largest logit is at their label, rows}, for a batch-mean loss (one element), logits
     * [rows, classes] and INT32 labels [rows]; labels null (a regression batch): {loss[0] rows, 0, rows}. Nothing is
     * read back: see {@link #readLater}.
     */
    void accumulateMetrics(Buffer loss, Buffer logits, Buffer labels, int rows, int classes, Buffer metrics);

    /** out[r] = x[r, idx[r]] for x [rows, cols] and INT32 idx [rows]. */
    void gatherRows(Buffer x, Buffer idx, int rows, int cols, Buffer out);

    /** dx[r, idx[r]] += dy[r]; dx [rows, cols] is not cleared first. */
    void scatterRows(Buffer dy, Buffer idx, int rows, int cols, Buffer dx);

    /**
     * out[i, :] = table[idx[i], :] for table [num, dim], INT32 idx [n] and out [n, dim]; an index outside [0, num)
     * fails naming it and its row ("embedding: index 12 in row 3 is outside [0, 10)"), as gatherRows does.
     */
    void embedding(Buffer table, Buffer idx, int n, int num, int dim, Buffer out);

    /**
     * dtable [num, dim] = zeros plus, for i in order, dy[i, :] added into row idx[i]: every element receives its terms
     * in index order, one add at a time in dtable's type, so the result is the same on every run and backend.
     */
    void embeddingBackward(Buffer dy, Buffer idx, int n, int num, int dim, Buffer dtable);

    /** Number of positions where two INT32 buffers of n elements agree (waits for the result). */
    long countEqual(Buffer a, Buffer b, long n);

    // ---- random -----------------------------------------------------------------------------------

    /** Fills out from {@link Distribution} with parameters a, b; element i uses counter offset + i. */
    void random(Buffer out, Distribution dist, double a, double b, long seed, long offset);

    /**
     * {@link #random(Buffer, Distribution, double, double, long, long)} with the offset kept on the device:
     * counter (FLOAT64 [1]) holds the first counter, and the call advances it on the device by out's length rounded up
     * to even (as {@code Generator.take}), so a replayed CUDA graph draws new numbers on every replay (dropout).
     */
    void random(Buffer out, Distribution dist, double a, double b, long seed, Buffer counter);

    // ---- fused layer epilogues ------------------------------------------------------------------------

    /**
     * The epilogue of a dense layer, after its GEMM z = x W^T: z += bias along rows (bias [cols], or null for
     * none), in place, then y = f(z; p1, p2) ({@link UnaryOp}) for z, y [rows, cols]; y may be z (then z is not
     * kept). With {@code residual} [rows, cols] (not null only when op is null) y = z + residual: a residual block's
     * last layer and its skip path. One pass over z instead of an add and an activation (or two adds). For a float32
     * z, y may be bfloat16: the float32 result rounded once, to nearest even (autocast's activations).
     */
    void biasActivation(UnaryOp op, Buffer z, Buffer bias, Buffer residual, int rows, int cols, double p1, double p2,
                        Buffer y);

    /**
     * The backward of {@link #biasActivation}: dz = dy f'(z) (dz = dy when op is null, and then dz may be null) and
     * dbias[c] = sum over rows of dz[r, c] (skipped when dbias is null), in one pass over dy. f' reads z or y as
     * {@link UnaryOp#saves()} says; for RELU z may be null and y is read (y > 0 exactly where z > 0). For a float32
     * dy, y may be bfloat16 (read as float).
     */
    void biasActivationBackward(UnaryOp op, Buffer z, Buffer y, Buffer dy, int rows, int cols, double p1, double p2,
                                Buffer dz, Buffer dbias);

    // ---- normalisation ------------------------------------------------------------------------------------

    /**
     * Layer normalisation of each row of x [rows, cols], as PyTorch's {@code layer_norm} over the last axis:
     * mean[r] = sum_c x[r, c] / cols, rstd[r] = 1 / sqrt(sum_c (x[r, c] - mean[r])^2 / cols + eps) (the biased
     * variance), y = (x - mean) rstd gamma + beta, with gamma and beta [cols] or null (1 and 0). mean and rstd [rows],
     * of x's dtype, are written for {@link #layerNormBackward}. Accumulated in double for every dtype.
     */
    void layerNorm(Buffer x, Buffer gamma, Buffer beta, int rows, int cols, double eps, Buffer y, Buffer mean,
                   Buffer rstd);

    /**
     * The backward of {@link #layerNorm}, from the saved mean and rstd: with xhat = (x - mean) rstd and g = dy gamma
     * (dy when gamma is null), dx = rstd (g - sum_c g / cols - xhat sum_c g xhat / cols) per row; dgamma[c] = sum_r
     * dy xhat and dbeta[c] = sum_r dy, each summed over the rows in order (deterministic). dx, dgamma and dbeta may
     * each be null (not wanted).
     */
    void layerNormBackward(Buffer x, Buffer mean, Buffer rstd, Buffer gamma, Buffer dy, int rows, int cols, Buffer dx,
                           Buffer dgamma, Buffer dbeta);

    // ---- fused optimizer updates (in place, never recorded on the tape) ----------------------------

    /**
     * SGD with momentum and weight decay, as PyTorch, for every parameter i that has a gradient (grads[i] not null)
     * at once (one launch on a GPU): t = ++steps[i]; g = grad + wd p; v = t == 1 ? g : momentum v + (1 - dampening) g;
     * d = nesterov ? g + momentum v : v (d = g when momentum is 0); p -= lr d. The learning rate (lr, FLOAT64 [1])
     * and the step counts (steps, FLOAT64 [params.length]) live on the device and the device counts, so a captured
     * CUDA graph replays the update under a schedule with nothing written but the learning rate. velocities may be
     * null when momentum is 0.
     */
    void sgdStep(Buffer[] params, Buffer[] grads, Buffer[] velocities, Buffer lr, Buffer steps, double momentum,
                 double dampening, double weightDecay, boolean nesterov);

    /**
     * Adam (decoupled = false: g = grad + wd p) or AdamW (decoupled: p -= lr wd p first), as PyTorch, for every
     * parameter i with a gradient at once: t = ++steps[i]; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps); lr and steps on the device as for {@link #sgdStep}.
     */
    void adamStep(Buffer[] params, Buffer[] grads, Buffer[] m, Buffer[] v, Buffer lr, Buffer steps, double beta1,
                  double beta2, double eps, double weightDecay, boolean decoupled);

    /**
     * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_, on the device: norm (FLOAT64 [1]) =
     * sqrt(sum of g^2 over every element of every gradient), summed in double; then every g = g maxNorm / (norm +
     * 1e-6), the product in double, where that factor is below 1 (maxNorm infinite: the norm only). Nothing is read
     * back, so a clipped step needs no wait.
     */
    void clipGradNorm(Buffer[] grads, double maxNorm, Buffer norm);

    // ---- graphs -----------------------------------------------------------------------------------------

    /** Recorded device work, replayed as one launch (a CUDA graph). */
    interface Graph extends AutoCloseable {
        /** Queues the recorded work once more, on the same device addresses; never waits. */
        void replay();

        /** Frees the recording and the memory only it used (after the replays already queued). */
        @Override
        void close();
    }

    /**
     * Records the device work {@code body} queues, without running it, for {@link Graph#replay}: every primitive
     * called inside is captured with its arguments as they are now, and memory allocated inside stays reserved for
     * the graph. Nothing inside may read from the device. Throws UnsupportedOperationException where the device
     * has no graphs (the CPU).
     */
    Graph capture(Runnable body);

    /** Waits until all queued work on this device is done. */
    void synchronize();
}
