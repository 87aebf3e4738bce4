// Softmax and log_softmax along the axis of an (outer, n, inner) view, their backward, and the fused
// softmax cross-entropy. Definitions: CpuBackend.softmax / softmaxBackward / crossEntropy /
// crossEntropyBackward. Launchers: SoftmaxKernels.java.
//
// The forward reads x twice, not three times: one online pass keeps the running maximum m and the sum
// s = sum_j e^(x_j - m), rescaled when m grows; a second pass writes y. s, log s and the dot products of the
// backward accumulate in double for both types. Edge cases follow the CPU loop: a row whose maximum is
// +-inf (all -inf, or any +inf) or that holds a NaN gives NaN everywhere.
#include "common.cuh"

struct OnlineSoftmax {
    struct V {
        double m;  // running maximum (-inf: nothing finite seen yet)
        double s;  // sum of e^(x - m)
    };
    __device__ static V identity() {
        V r;
        r.m = -INFINITY;
        r.s = 0.0;
        return r;
    }
    __device__ static V combine(V a, V b) {
        V r;
        r.m = a.m > b.m ? a.m : b.m;
        const double sa = a.m == -INFINITY ? a.s : a.s * exp(a.m - r.m);
        const double sb = b.m == -INFINITY ? b.s : b.s * exp(b.m - r.m);
        r.s = sa + sb;
        return r;
    }
    __device__ static V shfl(V x, int off) {
        V r;
        r.m = __shfl_xor_sync(0xffffffffu, x.m, off);
        r.s = __shfl_xor_sync(0xffffffffu, x.s, off);
        return r;
    }
};

// Folds one element into the running (m, s); e^(v - m) is computed in T. -inf contributes 0 (the final check
// turns an all -inf row into NaN, as the CPU's exp(-inf - -inf) does).
template <typename T>
__device__ __forceinline__ void online_step(OnlineSoftmax::V& acc, T x) {
    const double v = (double)x;
    if (v == -INFINITY) return;
    if (v > acc.m) {
        acc.s = acc.s * exp(acc.m - v) + 1.0;
        acc.m = v;
    } else {
        acc.s += (double)k_exp((T)(v - acc.m));  // v <= m, or v is NaN (then s becomes NaN)
    }
}

__device__ __forceinline__ void online_finish(OnlineSoftmax::V& acc) {
    if (isinf(acc.m)) acc.s = NAN;
}

// y from x, the maximum m and the sum s: log_softmax z - ln s, softmax e^z / s, with z = x - m.
template <typename T>
__device__ __forceinline__ T softmax_value(T x, const OnlineSoftmax::V& acc, double log_s, bool is_log) {
    const double z = (double)x - acc.m;
    return is_log ? (T)(z - log_s) : (T)((double)k_exp((T)z) / acc.s);
}

// Last axis (inner = 1): one block per row of n, blocks loop over the outer rows.
template <typename T>
__device__ void softmax_forward_rows(T* y, const T* x, i64 outer, i64 n, int is_log) {
    for (i64 o = blockIdx.x; o < outer; o += gridDim.x) {
        const T* xr = x + o * n;
        T* yr = y + o * n;
        OnlineSoftmax::V acc = OnlineSoftmax::identity();
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) online_step<T>(acc, xr[j]);
        acc = block_reduce<OnlineSoftmax>(acc);
        online_finish(acc);
        const double log_s = log(acc.s);
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) yr[j] = softmax_value<T>(xr[j], acc, log_s, is_log != 0);
    }
}

// Inner axes (inner > 1): one thread per (o, i) walks j (reads coalesced along i).
template <typename T>
__device__ void softmax_forward_cols(T* y, const T* x, i64 outer, i64 n, i64 inner, int is_log) {
    const u64 total = (u64)outer * (u64)inner;
    for (u64 k = global_thread(); k < total; k += global_stride()) {
        const u64 o = k / (u64)inner;
        const u64 base = o * (u64)n * (u64)inner + (k - o * (u64)inner);
        OnlineSoftmax::V acc = OnlineSoftmax::identity();
        for (i64 j = 0; j < n; j++) online_step<T>(acc, x[base + j * inner]);
        online_finish(acc);
        const double log_s = log(acc.s);
        for (i64 j = 0; j < n; j++) y[base + j * inner] = softmax_value<T>(x[base + j * inner], acc, log_s, is_log != 0);
    }
}

// dx from the forward output y: softmax dx = y (dy - sum(dy y)); log_softmax dx = dy - e^y sum(dy).
template <typename T>
__device__ __forceinline__ double softmax_dot_term(T y, T dy, bool is_log) {
    return is_log ? (double)dy : (double)dy * (double)y;
}

template <typename T>
__device__ __forceinline__ T softmax_grad(T y, T dy, double dot, bool is_log) {
    return is_log ? (T)((double)dy - (double)k_exp(y) * dot) : (T)((double)y * ((double)dy - dot));
}

template <typename T>
__device__ void softmax_backward_rows(T* dx, const T* y, const T* dy, i64 outer, i64 n, int is_log) {
    for (i64 o = blockIdx.x; o < outer; o += gridDim.x) {
        const T* yr = y + o * n;
        const T* gr = dy + o * n;
        T* dr = dx + o * n;
        double dot = 0.0;
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) dot += softmax_dot_term<T>(yr[j], gr[j], is_log != 0);
        dot = block_reduce<SumCombine>(dot);
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) dr[j] = softmax_grad<T>(yr[j], gr[j], dot, is_log != 0);
    }
}

template <typename T>
__device__ void softmax_backward_cols(T* dx, const T* y, const T* dy, i64 outer, i64 n, i64 inner, int is_log) {
    const u64 total = (u64)outer * (u64)inner;
    for (u64 k = global_thread(); k < total; k += global_stride()) {
        const u64 o = k / (u64)inner;
        const u64 base = o * (u64)n * (u64)inner + (k - o * (u64)inner);
        double dot = 0.0;
        for (i64 j = 0; j < n; j++) dot += softmax_dot_term<T>(y[base + j * inner], dy[base + j * inner], is_log != 0);
        for (i64 j = 0; j < n; j++) {
            const u64 p = base + j * inner;
            dx[p] = softmax_grad<T>(y[p], dy[p], dot, is_log != 0);
        }
    }
}

// Fused softmax cross-entropy for logits [rows, classes] and int labels [rows]:
// loss[r] = scale (ln sum_c e^(x[r, c] - m) + m - x[r, label[r]]), probs[r] = softmax(x[r]). One block per row.
// A label outside [0, classes) is reported through err (when not null) and gives loss[r] = NaN; probs is
// still written.
template <typename T>
__device__ void crossentropy_forward(T* loss, T* probs, const T* logits, const int* labels, i64 rows, i64 classes,
                                     double scale, u64* err) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = logits + r * classes;
        T* pr = probs + r * classes;
        OnlineSoftmax::V acc = OnlineSoftmax::identity();
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) online_step<T>(acc, xr[c]);
        acc = block_reduce<OnlineSoftmax>(acc);
        online_finish(acc);
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) pr[c] = softmax_value<T>(xr[c], acc, 0.0, false);
        if (threadIdx.x == 0) {
            const int label = labels[r];
            if (label < 0 || label >= classes) {
                report_bad_index(err, r, label, classes);
                loss[r] = (T)NAN;
            } else {
                loss[r] = (T)(scale * (log(acc.s) + acc.m - (double)xr[label]));
            }
        }
    }
}

// dlogits[r, c] = scale dloss[r dloss_step] (probs[r, c] - [c == label[r]]), computed in double; dloss_step is 1
// for one gradient per row, 0 for one shared by every row. One block per row.
template <typename T>
__device__ void crossentropy_backward(T* dlogits, const T* probs, const int* labels, const T* dloss, i64 dloss_step,
                                      double scale, i64 rows, i64 classes) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const int label = labels[r];
        const double g = scale * (double)dloss[r * dloss_step];
        const T* pr = probs + r * classes;
        T* dr = dlogits + r * classes;
        for (i64 c = threadIdx.x; c < classes; c += blockDim.x) {
            dr[c] = (T)(g * ((double)pr[c] - (c == label ? 1.0 : 0.0)));
        }
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

#define SOFTMAX_ENTRIES(T, S)                                                                                          \
    KERNEL __launch_bounds__(1024) softmax_forward_rows_##S(T* y, const T* x, i64 outer, i64 n, int is_log) {          \
        softmax_forward_rows<T>(y, x, outer, n, is_log);                                                               \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) softmax_forward_cols_##S(T* y, const T* x, i64 outer, i64 n, i64 inner,              \
                                                           int is_log) {                                               \
        softmax_forward_cols<T>(y, x, outer, n, inner, is_log);                                                        \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) softmax_backward_rows_##S(T* dx, const T* y, const T* dy, i64 outer, i64 n,         \
                                                             int is_log) {                                             \
        softmax_backward_rows<T>(dx, y, dy, outer, n, is_log);                                                         \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) softmax_backward_cols_##S(T* dx, const T* y, const T* dy, i64 outer, i64 n,          \
                                                            i64 inner, int is_log) {                                   \
        softmax_backward_cols<T>(dx, y, dy, outer, n, inner, is_log);                                                  \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) crossentropy_forward_##S(T* loss, T* probs, const T* logits,                        \
                                                            const int* labels, i64 rows, i64 classes, double scale,    \
                                                            u64* err) {                                                \
        crossentropy_forward<T>(loss, probs, logits, labels, rows, classes, scale, err);                               \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) crossentropy_backward_##S(T* dlogits, const T* probs, const int* labels,            \
                                                             const T* dloss, i64 dloss_step, double scale, i64 rows,   \
                                                             i64 classes) {                                            \
        crossentropy_backward<T>(dlogits, probs, labels, dloss, dloss_step, scale, rows, classes);                     \
    }

SOFTMAX_ENTRIES(float, f32)
SOFTMAX_ENTRIES(double, f64)
