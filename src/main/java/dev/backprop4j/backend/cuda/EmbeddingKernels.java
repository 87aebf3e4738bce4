package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

import java.util.List;

import static dev.backprop4j.backend.cuda.KernelModule.THREADS;
import static dev.backprop4j.backend.cuda.KernelModule.blocks;
import static dev.backprop4j.backend.cuda.KernelModule.launch1d;
import static dev.backprop4j.backend.cuda.KernelModule.pick;

/**
 * Launchers of kernels/embedding.cu, FLOAT32 and FLOAT64 (definitions: Backend.embedding and embeddingBackward):
 * <ul>
 *   <li>{@link #embedding}: out[i, d] = table[idx[i], d], one thread per output element, bad indices reported
 *       through an {@link IndexCheck} record;</li>
 *   <li>{@link #embeddingBackward}: dtable (zeroed by the caller) += dy row by row into the indexed rows, one thread
 *       per column walking the indices in order: deterministic, no atomics.</li>
 * </ul>
 */
final class EmbeddingKernels implements AutoCloseable {

    static final String MODULE = "embedding";

    static List<String> kernelNames() {
        return KernelModule.names(KernelModule.FLOATS, "embedding_forward", "embedding_backward");
    }

    private final KernelModule module;
    private final KernelModule.Kernel[] forward;
    private final KernelModule.Kernel[] backward;

    /** Launchers over a loaded (or, for tests, offline) module of this class's PTX. */
    EmbeddingKernels(KernelModule module) {
        this.module = module;
        this.forward = module.family("embedding_forward");
        this.backward = module.family("embedding_backward");
    }

    /** Loads the module into the current CUDA context. */
    public static EmbeddingKernels load() {
        return new EmbeddingKernels(KernelModule.load(MODULE, kernelNames()));
    }

    /** out [n, dim] from table [num, dim] and int idx [n]; errorRecord may be null (not reported). */
    public void embedding(DType dtype, CUdeviceptr table, CUdeviceptr idx, long n, long num, long dim,
                          CUdeviceptr out, CUdeviceptr errorRecord, CUstream stream) {
        KernelModule.requireNonNegative("embedding", n, num, dim);
        if (n * dim == 0) {
            return;
        }
        launch1d(pick(forward, dtype, "embedding"), blocks(n * dim, THREADS), THREADS, stream,
                new KernelArgs().ptr(out).ptr(table).ptr(idx).i64(n).i64(num).i64(dim).ptr(errorRecord));
    }

    /** dtable [num, dim], already zeroed, += dy [n, dim] into the rows idx [n] names. */
    public void embeddingBackward(DType dtype, CUdeviceptr dy, CUdeviceptr idx, long n, long num, long dim,
                                  CUdeviceptr dtable, CUstream stream) {
        KernelModule.requireNonNegative("embedding_backward", n, num, dim);
        if (n * dim == 0) {
            return;
        }
        int threads = (int) Math.min(THREADS, Math.max(32, (dim + 31) / 32 * 32));
        launch1d(pick(backward, dtype, "embedding_backward"), blocks(dim, threads), threads, stream,
                new KernelArgs().ptr(dtable).ptr(dy).ptr(idx).i64(n).i64(num).i64(dim));
    }

    @Override
    public void close() {
        module.close();
    }
}
