package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.cudaDataType;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasComputeType;
import jcuda.jcublas.cublasGemmAlgo;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasPointerMode;
import jcuda.libraryPropertyType;
import jcuda.runtime.cudaStream_t;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Row-major GEMM on cuBLAS: one cuBLAS v2 handle per device, bound to the device's stream, so GEMMs are ordered
 * with the backend's kernels and need no synchronisation.
 *
 * <p><b>Row-major on a column-major library.</b> cuBLAS reads matrices column-major, and reading a row-major
 * buffer column-major transposes it: a row-major [r, c] matrix (row length c) is, to cuBLAS, the [c, r] matrix
 * with leading dimension c. The row-major product C = op(A) op(B), C [m, n], is therefore to cuBLAS the product
 * C^T [n, m] = op(B)^T op(A)^T, and that is what we ask for: B's buffer as the first operand, A's as the second,
 * (m, n) swapped, k kept. Each operand keeps its own flag: B's buffer, read column-major, already is op(B)^T when
 * transB is false (OP_N), and when transB is true it holds op(B)^T row-major, so it needs OP_T; likewise A.
 * Leading dimensions are the row lengths of the stored row-major matrices: ldb = transB ? k : n,
 * lda = transA ? m : k, ldc = n. Nothing is copied or transposed. Batches use the strided-batched calls, strides
 * in elements, stride 0 sharing one matrix across the batch.
 *
 * <p><b>Precision.</b> FP32 GEMMs run in {@code CUBLAS_DEFAULT_MATH}: cuBLAS only uses tensor cores there when
 * their precision is at least FP32's, so results are true FP32 (they still differ from the CPU in the last bits
 * because the summation order differs). TF32 tensor-core math is an explicit opt-in, {@link #setTf32(boolean)} or
 * {@code -Dbackprop4j.cuda.tf32=true}: the inputs are rounded to TF32 (8-bit exponent, 10-bit mantissa, unit
 * roundoff 2^-11, about 5e-4 relative per input) and the products accumulated in FP32; large FP32 GEMMs then run
 * several times faster on Ampere and newer, at about three decimal digits of accuracy. FP64 GEMMs are unaffected.
 * A call asks for TF32 with its {@code tf32Inputs} (autocast's tf32), beside the global switch; cuBLAS may still run
 * a small or odd-shaped product in FP32, and does not document its rounding, so the CPU's TF32 (inputs rounded to
 * nearest, ties away) is what tensor cores compute only up to TF32's accuracy. Mixed precision: bfloat16 A and B
 * into float32 C through cublasGemmEx ({@code CUBLAS_COMPUTE_32F}), products exact and sums in FP32.
 *
 * <p>Thread-safe: a handle's configuration (math mode) must not change during a call, so {@link #gemm} is
 * synchronised on the handle's owner.
 */
final class CudaBlas {

    private static final ConcurrentHashMap<Integer, CudaBlas> HANDLES = new ConcurrentHashMap<>();
    private static volatile boolean tf32 = Boolean.getBoolean("backprop4j.cuda.tf32");

    private final CudaContext ctx;
    private final cublasHandle handle;
    private int mathMode = -1;

    private CudaBlas(CudaContext ctx) {
        String reason = CublasLoader.ensureLoaded();
        if (reason != null) {
            throw new IllegalStateException("CUDA unavailable: " + reason);
        }
        this.ctx = ctx;
        JCublas2.setExceptionsEnabled(true);
        ctx.makeCurrent();
        handle = new cublasHandle();
        try {
            JCublas2.cublasCreate(handle);
            JCublas2.cublasSetStream(handle, new cudaStream_t(ctx.stream()));
            JCublas2.cublasSetPointerMode(handle, cublasPointerMode.CUBLAS_POINTER_MODE_HOST);
        } catch (CudaException e) {
            throw new IllegalStateException("cuBLAS could not be initialised on " + ctx.device() + ": "
                    + e.getMessage(), e);
        }
    }

    /** The handle of {@code ctx}'s device, created on first use (the handle lives as long as the process). */
    public static CudaBlas get(CudaContext ctx) {
        CudaBlas b = HANDLES.get(ctx.index());
        return b != null ? b : HANDLES.computeIfAbsent(ctx.index(), i -> new CudaBlas(ctx));
    }

    /** Opts FP32 GEMMs into TF32 tensor-core math (see the class comment), for all devices, from the next call. */
    public static void setTf32(boolean enabled) {
        tf32 = enabled;
    }

    public static boolean tf32() {
        return tf32;
    }

    /**
     * The version of the cuBLAS library in use, e.g. "13.0.2"; loads cuBLAS (see {@link CublasLoader}) and calls
     * it, which needs no device.
     *
     * @throws IllegalStateException "cuBLAS unavailable: ..." when it cannot be loaded
     */
    static String libraryVersion() {
        String reason = CublasLoader.ensureLoaded();
        if (reason != null) {
            throw new IllegalStateException(reason);
        }
        JCublas2.setExceptionsEnabled(true);
        int[] major = {0};
        int[] minor = {0};
        int[] patch = {0};
        JCublas2.cublasGetProperty(libraryPropertyType.MAJOR_VERSION, major);
        JCublas2.cublasGetProperty(libraryPropertyType.MINOR_VERSION, minor);
        JCublas2.cublasGetProperty(libraryPropertyType.PATCH_LEVEL, patch);
        return major[0] + "." + minor[0] + "." + patch[0];
    }

    /**
     * For each of {@code batch} matrices: C = alpha op(A) op(B) + beta C, all row-major, exactly as
     * {@link dev.backprop4j.backend.Backend#gemm}: op(A) [m, k] (A stored [k, m] when transA), op(B) [k, n]
     * (B stored [n, k] when transB), C [m, n]; matrix i of a batch starts at element i * stride (0: shared).
     * beta = 0 ignores C's contents. Float32 or float64, the same for all three buffers, or bfloat16 A and B into
     * float32 C; {@code tf32Inputs}: TF32 math for float32. Asynchronous.
     */
    public synchronized void gemm(boolean transA, boolean transB, int batch, int m, int n, int k,
                                  double alpha, CudaBuffer a, long strideA, CudaBuffer b, long strideB,
                                  double beta, CudaBuffer c, long strideC, boolean tf32Inputs) {
        check(transA, transB, batch, m, n, k, a, strideA, b, strideB, c, strideC);
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        ColumnMajor cm = ColumnMajor.of(transA, transB, m, n, k);
        if (a.dtype() == DType.BFLOAT16) {
            mixed(cm, batch, alpha, a, strideA, b, strideB, beta, c, strideC, describe(transA, transB, batch, m, n, k));
            return;
        }
        boolean single = c.dtype() == DType.FLOAT32;
        ctx.makeCurrent();
        setMathMode(single && (tf32 || tf32Inputs) ? cublasMath.CUBLAS_TF32_TENSOR_OP_MATH
                : cublasMath.CUBLAS_DEFAULT_MATH);
        Pointer al = single ? Pointer.to(new float[] {(float) alpha}) : Pointer.to(new double[] {alpha});
        Pointer be = single ? Pointer.to(new float[] {(float) beta}) : Pointer.to(new double[] {beta});
        int opFirst = cm.transFirst() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opSecond = cm.transSecond() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        try {
            if (batch == 1 && single) {
                JCublas2.cublasSgemm(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al, b.pointer(), cm.ldFirst(),
                        a.pointer(), cm.ldSecond(), be, c.pointer(), cm.ldc());
            } else if (batch == 1) {
                JCublas2.cublasDgemm(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al, b.pointer(), cm.ldFirst(),
                        a.pointer(), cm.ldSecond(), be, c.pointer(), cm.ldc());
            } else if (single) {
                JCublas2.cublasSgemmStridedBatched(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al,
                        b.pointer(), cm.ldFirst(), strideB, a.pointer(), cm.ldSecond(), strideA, be,
                        c.pointer(), cm.ldc(), strideC, batch);
            } else {
                JCublas2.cublasDgemmStridedBatched(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al,
                        b.pointer(), cm.ldFirst(), strideB, a.pointer(), cm.ldSecond(), strideA, be,
                        c.pointer(), cm.ldc(), strideC, batch);
            }
        } catch (CudaException e) {
            throw new IllegalStateException("cuBLAS " + (single ? "S" : "D") + "gemm" + (batch == 1 ? "" : "StridedBatched")
                    + " failed (" + e.getMessage() + ") for " + describe(transA, transB, batch, m, n, k) + " on "
                    + ctx.device(), e);
        }
    }

    /**
     * The GEMM on bfloat16 A and B into float32 C, accumulated in float32 (tensor cores): cublasGemmEx or its
     * strided batched form through JCublas2's {@code _new} entry points, which take the cublasComputeType (the
     * names without {@code _new} pass a legacy compute type that cuBLAS rejects as NOT_SUPPORTED); JCublas2 turns
     * every failing status into an exception.
     */
    private void mixed(ColumnMajor cm, int batch, double alpha, CudaBuffer a, long strideA, CudaBuffer b, long strideB,
                       double beta, CudaBuffer c, long strideC, String shapes) {
        ctx.makeCurrent();
        setMathMode(cublasMath.CUBLAS_DEFAULT_MATH);
        Pointer al = Pointer.to(new float[] {(float) alpha});
        Pointer be = Pointer.to(new float[] {(float) beta});
        int opFirst = cm.transFirst() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opSecond = cm.transSecond() ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int bf16 = cudaDataType.CUDA_R_16BF;
        try {
            if (batch == 1) {
                JCublas2.cublasGemmEx_new(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al, b.pointer(), bf16,
                        cm.ldFirst(), a.pointer(), bf16, cm.ldSecond(), be, c.pointer(), cudaDataType.CUDA_R_32F,
                        cm.ldc(), cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
            } else {
                JCublas2.cublasGemmStridedBatchedEx_new(handle, opFirst, opSecond, cm.m(), cm.n(), cm.k(), al,
                        b.pointer(), bf16, cm.ldFirst(), strideB, a.pointer(), bf16, cm.ldSecond(), strideA, be,
                        c.pointer(), cudaDataType.CUDA_R_32F, cm.ldc(), strideC, batch,
                        cublasComputeType.CUBLAS_COMPUTE_32F, cublasGemmAlgo.CUBLAS_GEMM_DEFAULT);
            }
        } catch (CudaException e) {
            throw new IllegalStateException("cuBLAS GemmEx" + (batch == 1 ? "" : " strided batched") + " (bfloat16 "
                    + "inputs, float32 output) failed (" + e.getMessage() + ") for " + shapes + " on " + ctx.device(), e);
        }
    }

    private void setMathMode(int mode) {
        if (mode != mathMode) {
            JCublas2.cublasSetMathMode(handle, mode);
            mathMode = mode;
        }
    }

    /** Caller errors, named with the shapes, before anything reaches the device. */
    private void check(boolean transA, boolean transB, int batch, int m, int n, int k,
                       CudaBuffer a, long strideA, CudaBuffer b, long strideB, CudaBuffer c, long strideC) {
        String shapes = describe(transA, transB, batch, m, n, k);
        if (batch < 0 || m < 0 || n < 0 || k < 0 || strideA < 0 || strideB < 0 || strideC < 0) {
            throw new IllegalArgumentException("gemm: negative size or stride in " + shapes + ", strides (" + strideA
                    + ", " + strideB + ", " + strideC + ")");
        }
        DType t = c.dtype();
        if (t != DType.FLOAT32 && t != DType.FLOAT64) {
            throw new IllegalArgumentException("gemm: dtype " + t + " is not supported (float32 or float64)");
        }
        boolean mixed = a.dtype() == DType.BFLOAT16 && b.dtype() == DType.BFLOAT16 && t == DType.FLOAT32;
        if (!mixed && (a.dtype() != t || b.dtype() != t)) {
            throw new IllegalArgumentException("gemm: dtypes differ: A " + a.dtype() + ", B " + b.dtype() + ", C " + t
                    + " (mixed precision is bfloat16 A and B into float32 C)");
        }
        for (CudaBuffer x : new CudaBuffer[] {a, b, c}) {
            if (!x.device().equals(ctx.device())) {
                throw new IllegalArgumentException("gemm on " + ctx.device() + " given a buffer on " + x.device());
            }
        }
        if (batch > 1 && strideC < (long) m * n) {
            throw new IllegalArgumentException("gemm: the C matrices of a batch overlap (strideC " + strideC
                    + " < m*n = " + (long) m * n + ") in " + shapes);
        }
        requireLength("A", a, batch, strideA, (long) m * k, shapes);
        requireLength("B", b, batch, strideB, (long) k * n, shapes);
        requireLength("C", c, batch, strideC, (long) m * n, shapes);
    }

    private static void requireLength(String name, CudaBuffer x, int batch, long stride, long matrix, String shapes) {
        long need = batch == 0 || matrix == 0 ? 0 : (batch - 1) * stride + matrix;
        if (x.length() < need) {
            throw new IllegalArgumentException("gemm: " + name + " has " + x.length() + " elements, needs " + need
                    + " for " + shapes + " with stride " + stride);
        }
    }

    private static String describe(boolean transA, boolean transB, int batch, int m, int n, int k) {
        return "batch " + batch + " of op(A) [" + m + ", " + k + "]" + (transA ? " (A^T)" : "") + " x op(B) [" + k
                + ", " + n + "]" + (transB ? " (B^T)" : "") + " -> C [" + m + ", " + n + "]";
    }

    /**
     * The column-major cuBLAS call computing a row-major GEMM (see the class comment): first operand B, second A.
     *
     * @param transFirst  apply OP_T to B's buffer
     * @param transSecond apply OP_T to A's buffer
     * @param m           cuBLAS m: rows of the column-major result, our n
     * @param n           cuBLAS n: our m
     * @param k           the shared dimension, unchanged
     * @param ldFirst     leading dimension of B's buffer
     * @param ldSecond    leading dimension of A's buffer
     * @param ldc         leading dimension of C's buffer (our n)
     */
    record ColumnMajor(boolean transFirst, boolean transSecond, int m, int n, int k, int ldFirst, int ldSecond,
                       int ldc) {
        static ColumnMajor of(boolean transA, boolean transB, int m, int n, int k) {
            // cuBLAS rejects leading dimensions below 1 even where a dimension is 0.
            return new ColumnMajor(transB, transA, n, m, k, Math.max(1, transB ? k : n), Math.max(1, transA ? m : k),
                    Math.max(1, n));
        }
    }
}
