// Embedding lookup and its backward. Definitions: Backend.embedding and Backend.embeddingBackward (reference
// loops: ReferenceReductions). Launchers: EmbeddingKernels.java.
//
// The backward adds every selected row's gradient into the table's gradient without atomics: one thread per column
// walks the indices in order, so each element of dtable receives its terms in index order, one float add at a time,
// exactly as the CPU's loop does: the same bits on every run and on both backends.
#include "common.cuh"

// out[i, d] = table[idx[i], d] for i < n, d < dim; an index outside [0, num) is reported through err (when not null)
// and its row of out is 0.
template <typename T>
__device__ void embedding_forward(T* out, const T* table, const int* idx, i64 n, i64 num, i64 dim, u64* err) {
    const u64 total = (u64)n * (u64)dim;
    for (u64 e = global_thread(); e < total; e += global_stride()) {
        const i64 i = (i64)(e / (u64)dim);
        const i64 d = (i64)(e % (u64)dim);
        const int j = idx[i];
        if (j < 0 || j >= num) {
            if (d == 0) report_bad_index(err, i, j, num);
            out[e] = (T)0;
        } else {
            out[e] = table[(i64)j * dim + d];
        }
    }
}

// dtable[j, d] = sum over i with idx[i] = j of dy[i, d], the i in order; dtable was zeroed; bad indices skipped.
template <typename T>
__device__ void embedding_backward(T* dtable, const T* dy, const int* idx, i64 n, i64 num, i64 dim) {
    for (i64 d = (i64)blockIdx.x * blockDim.x + threadIdx.x; d < dim; d += (i64)gridDim.x * blockDim.x) {
        for (i64 i = 0; i < n; i++) {
            const int j = idx[i];
            if (j >= 0 && j < num) {
                dtable[(i64)j * dim + d] += dy[i * dim + d];
            }
        }
    }
}

#define EMBEDDING_ENTRIES(T, S)                                                                                        \
    KERNEL __launch_bounds__(256) embedding_forward_##S(T* out, const T* table, const int* idx, i64 n, i64 num,        \
                                                        i64 dim, u64* err) {                                           \
        embedding_forward<T>(out, table, idx, n, num, dim, err);                                                       \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) embedding_backward_##S(T* dtable, const T* dy, const int* idx, i64 n, i64 num,       \
                                                         i64 dim) {                                                    \
        embedding_backward<T>(dtable, dy, idx, n, num, dim);                                                           \
    }

EMBEDDING_ENTRIES(float, f32)
EMBEDDING_ENTRIES(double, f64)
