// Reductions over one axis of a tensor viewed as (outer, n, inner): sum and max, argmax, count_equal, and the
// training loop's running loss and accuracy (accumulate_metrics).
// Definitions: CpuBackend.reduce / argmax / countEqual. Launchers: ReduceKernels.java.
// Sums and maxima accumulate in double for both float and double inputs, as the CPU reference does.
#include "common.cuh"

// Reduce op codes = ordinals of dev.backprop4j.backend.ReduceOp.
// @enum ReduceOp REDUCE_
enum ReduceCode {
    REDUCE_SUM = 0,  // sum over j, 0 when n = 0
    REDUCE_MAX = 1,  // max over j, NaN if any is NaN, -inf when n = 0
};
// @end

// Last axis (inner = 1), each row split into `parts` chunks of ceil(n / parts) elements:
// out[o * parts + p] = reduce over the j of chunk p of x[o, j]. One block per (row, chunk), blocks loop past the
// grid; each thread folds a strided slice of its chunk, then the block combines the partials. parts = 1 is the plain
// row reduction; parts > 1 lets a few long rows (a sum over a whole tensor) use many blocks, and a second launch
// (the _finish kernel: this one over the partials) combines them.
template <typename TI, typename TO, typename R>
__device__ void reduce_rows_body(TO* out, const TI* x, i64 outer, i64 n, i64 parts) {
    const i64 chunk = (n + parts - 1) / parts;
    for (i64 b = blockIdx.x; b < outer * parts; b += gridDim.x) {
        const i64 o = b / parts, p = b - o * parts;
        const TI* row = x + o * n;
        const i64 end = (p + 1) * chunk < n ? (p + 1) * chunk : n;
        double acc = R::identity();
        for (i64 j = p * chunk + threadIdx.x; j < end; j += blockDim.x) {
            acc = R::combine(acc, (double)row[j]);
        }
        acc = block_reduce<R>(acc);
        if (threadIdx.x == 0) out[b] = (TO)acc;
    }
}

template <typename TI, typename TO>
__device__ void reduce_rows(TO* out, const TI* x, i64 outer, i64 n, i64 parts, int op) {
    if (op == REDUCE_MAX) {
        reduce_rows_body<TI, TO, MaxCombine>(out, x, outer, n, parts);
    } else {
        reduce_rows_body<TI, TO, SumCombine>(out, x, outer, n, parts);
    }
}

// Inner axes (inner > 1), j split into `parts` chunks: out[(o * parts + p) * inner + i] = reduce over the j of chunk
// p of x[o, j, i], e.g. the bias gradient, the sum over axis 0 of [rows, cols] (outer = 1, n = rows, inner = cols).
// Block (32, by): threadIdx.x picks the column i (coalesced reads along i), threadIdx.y one of by interleaved
// partials over j, combined in order of y. Blocks loop over column tiles (x) and (o, chunk) pairs (y) past the grid.
template <typename TI, typename TO, typename R>
__device__ void reduce_cols_body(TO* out, const TI* x, i64 outer, i64 n, i64 inner, i64 parts) {
    __shared__ double part[32][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const i64 chunk = (n + parts - 1) / parts;
    for (i64 g = blockIdx.y; g < outer * parts; g += gridDim.y) {
        const i64 o = g / parts, p = g - o * parts;
        const i64 end = (p + 1) * chunk < n ? (p + 1) * chunk : n;
        for (i64 c0 = (i64)blockIdx.x * 32; c0 < inner; c0 += (i64)gridDim.x * 32) {
            const i64 i = c0 + tx;
            double acc = R::identity();
            if (i < inner) {
                const TI* col = x + o * n * inner + i;
                for (i64 j = p * chunk + ty; j < end; j += blockDim.y) {
                    acc = R::combine(acc, (double)col[j * inner]);
                }
            }
            part[ty][tx] = acc;
            __syncthreads();
            if (ty == 0 && i < inner) {
                double r = part[0][tx];
                for (int k = 1; k < (int)blockDim.y; k++) {
                    r = R::combine(r, part[k][tx]);
                }
                out[g * inner + i] = (TO)r;
            }
            __syncthreads();
        }
    }
}

template <typename TI, typename TO>
__device__ void reduce_cols(TO* out, const TI* x, i64 outer, i64 n, i64 inner, i64 parts, int op) {
    if (op == REDUCE_MAX) {
        reduce_cols_body<TI, TO, MaxCombine>(out, x, outer, n, inner, parts);
    } else {
        reduce_cols_body<TI, TO, SumCombine>(out, x, outer, n, inner, parts);
    }
}

// A candidate of the argmax: the value and its position j (-1: none). The preferred of two is the larger
// value, NaN counting as smallest, ties going to the smaller j: the first maximum, as CpuBackend.argmax finds
// (which also ignores NaN, unless x[0] is NaN; the kernels check that case separately).
struct ArgMaxCombine {
    struct V {
        double v;
        i64 j;
    };
    __device__ static V identity() {
        V r;
        r.v = 0.0;
        r.j = -1;
        return r;
    }
    __device__ static V combine(V a, V b) {
        if (b.j < 0) return a;
        if (a.j < 0) return b;
        const bool an = a.v != a.v, bn = b.v != b.v;
        if (bn) return (an && b.j < a.j) ? b : a;
        if (an) return b;
        return (b.v > a.v || (b.v == a.v && b.j < a.j)) ? b : a;
    }
    __device__ static V shfl(V x, int off) {
        V r;
        r.v = __shfl_xor_sync(0xffffffffu, x.v, off);
        r.j = __shfl_xor_sync(0xffffffffu, x.j, off);
        return r;
    }
};

// Last axis: out[o] = the first j maximising x[o, j]. One block per row, as reduce_rows.
template <typename T>
__device__ void argmax_rows(int* out, const T* x, i64 outer, i64 n) {
    for (i64 o = blockIdx.x; o < outer; o += gridDim.x) {
        const T* row = x + o * n;
        ArgMaxCombine::V acc = ArgMaxCombine::identity();
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
            ArgMaxCombine::V c;
            c.v = (double)row[j];
            c.j = j;
            acc = ArgMaxCombine::combine(acc, c);
        }
        acc = block_reduce<ArgMaxCombine>(acc);
        if (threadIdx.x == 0) {
            const bool first_nan = n > 0 && row[0] != row[0];
            out[o] = (first_nan || acc.j < 0) ? 0 : (int)acc.j;
        }
    }
}

// Inner axes: out[o, i] = the first j maximising x[o, j, i]; one thread per output walks j in order, exactly
// the CPU loop.
template <typename T>
__device__ void argmax_cols(int* out, const T* x, i64 outer, i64 n, i64 inner) {
    const u64 total = (u64)outer * (u64)inner;
    for (u64 k = global_thread(); k < total; k += global_stride()) {
        const u64 o = k / (u64)inner;
        const u64 i = k - o * (u64)inner;
        const T* col = x + o * (u64)n * (u64)inner + i;
        int best = 0;
        if (n > 0) {
            T bv = col[0];
            for (i64 j = 1; j < n; j++) {
                const T v = col[j * inner];
                if (v > bv) {
                    bv = v;
                    best = (int)j;
                }
            }
        }
        out[k] = best;
    }
}

struct CountCombine {
    typedef u64 V;
    __device__ static V identity() { return 0; }
    __device__ static V combine(V a, V b) { return a + b; }
    __device__ static V shfl(V v, int off) { return __shfl_xor_sync(0xffffffffu, v, off); }
};

// *count += the number of i < n with a[i] == b[i]; the launcher zeroes *count first. Integer atomics, so the
// result is exact and deterministic.
__device__ void count_equal(u64* count, const int* a, const int* b, i64 n) {
    u64 c = 0;
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        c += a[i] == b[i] ? 1 : 0;
    }
    c = block_reduce<CountCombine>(c);
    if (threadIdx.x == 0 && c != 0) atomicAdd(count, c);
}

// The running totals of a training epoch: metrics[0] += loss[0] rows (the batch's mean loss times its rows),
// metrics[1] += the rows whose first largest logit is at their label (argmax_cols' rule, as CpuBackend.argmax;
// nothing for a regression batch, labels null), metrics[2] += rows. One block; each thread walks whole rows, the
// count is combined in a fixed order.
template <typename T>
__device__ void accumulate_metrics(double* metrics, const T* loss, const T* logits, const int* labels, i64 rows,
                                   i64 classes) {
    double correct = 0.0;
    for (i64 r = threadIdx.x; labels != nullptr && r < rows; r += blockDim.x) {
        const T* row = logits + r * classes;
        int best = 0;
        if (classes > 0) {
            T bv = row[0];
            for (i64 j = 1; j < classes; j++) {
                if (row[j] > bv) {
                    bv = row[j];
                    best = (int)j;
                }
            }
        }
        correct += best == labels[r] ? 1.0 : 0.0;
    }
    correct = block_reduce<SumCombine>(correct);
    if (threadIdx.x == 0) {
        metrics[0] += (double)loss[0] * (double)rows;
        metrics[1] += correct;
        metrics[2] += (double)rows;
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

// reduce_*_partial write double partials [outer, parts(, inner)]; reduce_*_finish reduce those into T.
#define REDUCE_ENTRIES(T, S)                                                                                           \
    KERNEL __launch_bounds__(1024) reduce_rows_##S(T* out, const T* x, i64 outer, i64 n, int op) {                     \
        reduce_rows<T, T>(out, x, outer, n, 1, op);                                                                    \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) reduce_rows_partial_##S(double* part, const T* x, i64 outer, i64 n, i64 parts,      \
                                                           int op) {                                                   \
        reduce_rows<T, double>(part, x, outer, n, parts, op);                                                          \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) reduce_rows_finish_##S(T* out, const double* part, i64 outer, i64 parts, int op) {  \
        reduce_rows<double, T>(out, part, outer, parts, 1, op);                                                        \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) reduce_cols_##S(T* out, const T* x, i64 outer, i64 n, i64 inner, int op) {          \
        reduce_cols<T, T>(out, x, outer, n, inner, 1, op);                                                             \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) reduce_cols_partial_##S(double* part, const T* x, i64 outer, i64 n, i64 inner,      \
                                                           i64 parts, int op) {                                        \
        reduce_cols<T, double>(part, x, outer, n, inner, parts, op);                                                   \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) reduce_cols_finish_##S(T* out, const double* part, i64 outer, i64 parts, i64 inner, \
                                                          int op) {                                                    \
        reduce_cols<double, T>(out, part, outer, parts, inner, 1, op);                                                 \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) argmax_rows_##S(int* out, const T* x, i64 outer, i64 n) {                           \
        argmax_rows<T>(out, x, outer, n);                                                                              \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) argmax_cols_##S(int* out, const T* x, i64 outer, i64 n, i64 inner) {                 \
        argmax_cols<T>(out, x, outer, n, inner);                                                                       \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) accumulate_metrics_##S(double* metrics, const T* loss, const T* logits,              \
                                                         const int* labels, i64 rows, i64 classes) {                   \
        accumulate_metrics<T>(metrics, loss, logits, labels, rows, classes);                                           \
    }

REDUCE_ENTRIES(float, f32)
REDUCE_ENTRIES(double, f64)

KERNEL __launch_bounds__(256) count_equal_i32(u64* count, const int* a, const int* b, i64 n) {
    count_equal(count, a, b, n);
}
