package dev.backprop4j.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * All of our own CUDA kernels for one context: every non-GEMM primitive of the backend contract, one launcher
 * class per kernels/*.cu file. {@link #load} must run with the target context current (each module belongs to
 * that context), as must every launch and {@link #close}.
 *
 * <p>Launchers are asynchronous on the stream they are given (null: the default stream), own their block size
 * and grid math, return at once for empty work, and accept any size: every kernel loops past its grid and
 * guards its tail. Buffers are {@code CUdeviceptr}s to contiguous row-major data of the stated dtype.
 */
final class CudaKernels implements AutoCloseable {

    public final ElementwiseKernels elementwise;
    public final LayoutKernels layout;
    public final ReduceKernels reduce;
    public final SoftmaxKernels softmax;
    public final RandomKernels random;
    public final OptimizerKernels optimizer;
    public final NormKernels norm;
    public final EmbeddingKernels embedding;

    private CudaKernels(ElementwiseKernels elementwise, LayoutKernels layout, ReduceKernels reduce,
                        SoftmaxKernels softmax, RandomKernels random, OptimizerKernels optimizer, NormKernels norm,
                        EmbeddingKernels embedding) {
        this.elementwise = elementwise;
        this.layout = layout;
        this.reduce = reduce;
        this.softmax = softmax;
        this.random = random;
        this.optimizer = optimizer;
        this.norm = norm;
        this.embedding = embedding;
    }

    /** Loads every module into the current CUDA context; on failure unloads those already loaded. */
    public static CudaKernels load() {
        List<AutoCloseable> loaded = new ArrayList<>();
        try {
            ElementwiseKernels e = add(loaded, ElementwiseKernels.load());
            LayoutKernels l = add(loaded, LayoutKernels.load());
            ReduceKernels r = add(loaded, ReduceKernels.load());
            SoftmaxKernels s = add(loaded, SoftmaxKernels.load());
            RandomKernels g = add(loaded, RandomKernels.load());
            OptimizerKernels o = add(loaded, OptimizerKernels.load());
            NormKernels n = add(loaded, NormKernels.load());
            EmbeddingKernels m = add(loaded, EmbeddingKernels.load());
            return new CudaKernels(e, l, r, s, g, o, n, m);
        } catch (RuntimeException e) {
            for (AutoCloseable c : loaded) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static <T extends AutoCloseable> T add(List<AutoCloseable> loaded, T module) {
        loaded.add(module);
        return module;
    }

    /** Module name (kernels/&lt;name&gt;.cu) to the kernel names its launchers look up, for the PTX checks. */
    static Map<String, List<String>> kernelNamesByModule() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put(ElementwiseKernels.MODULE, ElementwiseKernels.kernelNames());
        m.put(LayoutKernels.MODULE, LayoutKernels.kernelNames());
        m.put(ReduceKernels.MODULE, ReduceKernels.kernelNames());
        m.put(SoftmaxKernels.MODULE, SoftmaxKernels.kernelNames());
        m.put(RandomKernels.MODULE, RandomKernels.kernelNames());
        m.put(OptimizerKernels.MODULE, OptimizerKernels.kernelNames());
        m.put(NormKernels.MODULE, NormKernels.kernelNames());
        m.put(EmbeddingKernels.MODULE, EmbeddingKernels.kernelNames());
        return m;
    }

    /** Unloads every module (idempotent). */
    @Override
    public void close() {
        RuntimeException first = null;
        for (AutoCloseable c : List.<AutoCloseable>of(embedding, norm, optimizer, random, softmax, reduce, layout, elementwise)) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
