// Elementwise kernels: unary ops and their local gradients, binary ops (same shape, row broadcast, general
// NumPy broadcast), and the dense layer's fused epilogue (bias + activation, and its backward with the bias sums). The formulas are those of CpuMath.java, operation for operation and in the same order.
// Launchers: ElementwiseKernels.java.
#include "common.cuh"

// Unary op codes = ordinals of dev.backprop4j.backend.UnaryOp; PtxKernelsTest checks this table against
// UnaryOp.values(). Columns: forward y = f(x; p1, p2) | dx = dy * f'(x), from x and/or the forward output y.
// @enum UnaryOp UNARY_
enum UnaryCode {
    UNARY_NEG = 0,          // -x                                       | -dy
    UNARY_EXP = 1,          // e^x                                      | dy y
    UNARY_LOG = 2,          // ln x                                     | dy / x
    UNARY_SQRT = 3,         // sqrt x                                   | dy 0.5 / y
    UNARY_ABS = 4,          // |x|                                      | dy sign(x)
    UNARY_POW = 5,          // x^p1                                     | dy p1 x^(p1-1), 0 when p1 = 0
    UNARY_ADD_SCALAR = 6,   // x + p1                                   | dy
    UNARY_MUL_SCALAR = 7,   // x p1                                     | dy p1
    UNARY_RDIV_SCALAR = 8,  // p1 / x                                   | -dy p1 / x^2
    UNARY_CLAMP = 9,        // min(max(x, p1), p2)                      | dy if p1 <= x <= p2 else 0
    UNARY_RELU = 10,        // x > 0 ? x : 0                            | x > 0 ? dy : 0
    UNARY_LEAKY_RELU = 11,  // x > 0 ? x : p1 x                         | x > 0 ? dy : p1 dy
    UNARY_SIGMOID = 12,     // 1 / (1 + e^-x), stable                   | dy y (1 - y)
    UNARY_TANH = 13,        // tanh x                                   | dy (1 - y^2)
    UNARY_GELU = 14,        // x/2 (1 + tanh(c (x + 0.044715 x^3)))     | see unary_grad (both via gelu_s)
    UNARY_SOFTPLUS = 15,    // max(x, 0) + ln(1 + e^-|x|)               | dy sigmoid(x)
    UNARY_GELU_ERF = 16,    // x/2 (1 + erf(x / sqrt 2))                | dy (Phi(x) + x phi(x))
};
// @end

// Binary op codes = ordinals of dev.backprop4j.backend.BinaryOp.
// @enum BinaryOp BINARY_
enum BinaryCode {
    BINARY_ADD = 0,      // a + b
    BINARY_SUB = 1,      // a - b
    BINARY_MUL = 2,      // a * b
    BINARY_DIV = 3,      // a / b
    BINARY_MAXIMUM = 4,  // max(a, b), NaN if either is NaN
    BINARY_EQ = 5,       // a == b ? 1 : 0
};
// @end

#define GELU_C 0.7978845608028654  // sqrt(2 / pi), as CpuMath.GELU_C
#define SQRT1_2 0.7071067811865476  // sqrt(1 / 2), as CpuMath.SQRT1_2
#define INV_SQRT_2PI 0.3989422804014327  // 1 / sqrt(2 pi), as CpuMath.INV_SQRT_2PI

template <typename T>
__device__ __forceinline__ T sigmoid(T x) {
    if (x >= 0) {
        return (T)1 / ((T)1 + k_exp(-x));
    }
    const T e = k_exp(x);
    return e / ((T)1 + e);
}

// (1 + tanh u) / 2 = 1 / (1 + e^(-2u)) from E = e^(-2|u|), as CpuMath.geluS: no cancellation in the negative tail.
template <typename T>
__device__ __forceinline__ T gelu_s(T u) {
    const T e = k_exp((T)-2 * k_abs(u));
    return u >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
}

// Phi(x), the standard normal distribution, from erfc below 0 (no cancellation), as CpuMath.normalCdf.
template <typename T>
__device__ __forceinline__ T normal_cdf(T x) {
    return x >= 0 ? (T)0.5 * ((T)1 + k_erf(x * (T)SQRT1_2)) : (T)0.5 * k_erfc(-x * (T)SQRT1_2);
}

// Java Math.signum: -1, 0 (keeping the sign of zero), 1, NaN for NaN.
template <typename T>
__device__ __forceinline__ T signum(T x) {
    return x > 0 ? (T)1 : (x < 0 ? (T)-1 : x);
}

template <typename T>
__device__ __forceinline__ T unary_f(int op, T x, T p1, T p2) {
    switch (op) {
        case UNARY_NEG: return -x;
        case UNARY_EXP: return k_exp(x);
        case UNARY_LOG: return k_log(x);
        case UNARY_SQRT: return k_sqrt(x);
        case UNARY_ABS: return k_abs(x);
        case UNARY_POW: return k_pow(x, p1);
        case UNARY_ADD_SCALAR: return x + p1;
        case UNARY_MUL_SCALAR: return x * p1;
        case UNARY_RDIV_SCALAR: return p1 / x;
        case UNARY_CLAMP: return java_min(java_max(x, p1), p2);
        case UNARY_RELU: return x > 0 ? x : (T)0;
        case UNARY_LEAKY_RELU: return x > 0 ? x : p1 * x;
        case UNARY_SIGMOID: return sigmoid(x);
        case UNARY_TANH: return k_tanh(x);
        case UNARY_GELU: {
            const T u = (T)GELU_C * (x + (T)0.044715 * x * x * x);
            return x * gelu_s(u);
        }
        case UNARY_SOFTPLUS: return java_max(x, (T)0) + k_log1p(k_exp(-k_abs(x)));
        case UNARY_GELU_ERF: return x * normal_cdf(x);
        default: return (T)NAN;  // unknown op code: the launcher only passes UnaryOp ordinals
    }
}

template <typename T>
__device__ __forceinline__ T unary_grad(int op, T x, T y, T dy, T p1, T p2) {
    switch (op) {
        case UNARY_NEG: return -dy;
        case UNARY_EXP: return dy * y;
        case UNARY_LOG: return dy / x;
        case UNARY_SQRT: return dy * (T)0.5 / y;
        case UNARY_ABS: return dy * signum(x);
        case UNARY_POW: return p1 == (T)0 ? (T)0 : dy * p1 * k_pow(x, p1 - (T)1);
        case UNARY_ADD_SCALAR: return dy;
        case UNARY_MUL_SCALAR: return dy * p1;
        case UNARY_RDIV_SCALAR: return -dy * p1 / (x * x);
        case UNARY_CLAMP: return (x >= p1 && x <= p2) ? dy : (T)0;
        case UNARY_RELU: return x > 0 ? dy : (T)0;
        case UNARY_LEAKY_RELU: return x > 0 ? dy : p1 * dy;
        case UNARY_SIGMOID: return dy * y * ((T)1 - y);
        case UNARY_TANH: return dy * ((T)1 - y * y);
        case UNARY_GELU: {
            const T u = (T)GELU_C * (x + (T)0.044715 * x * x * x);
            const T e = k_exp((T)-2 * k_abs(u));
            const T du = (T)GELU_C * ((T)1 + (T)3 * (T)0.044715 * x * x);
            return dy * (gelu_s(u) + (T)2 * x * du * e / (((T)1 + e) * ((T)1 + e)));
        }
        case UNARY_SOFTPLUS: return dy * sigmoid(x);
        case UNARY_GELU_ERF:
            return dy * (normal_cdf(x) + x * k_exp((T)-0.5 * x * x) * (T)INV_SQRT_2PI);
        default: return (T)NAN;
    }
}

template <typename T>
__device__ __forceinline__ T binary_f(int op, T a, T b) {
    switch (op) {
        case BINARY_ADD: return a + b;
        case BINARY_SUB: return a - b;
        case BINARY_MUL: return a * b;
        case BINARY_DIV: return a / b;
        case BINARY_MAXIMUM: return java_max(a, b);
        case BINARY_EQ: return a == b ? (T)1 : (T)0;
        default: return (T)NAN;
    }
}

// out[i] = f(x[i]; p1, p2), i < n; out may be x.
template <typename T>
__device__ void unary_forward(T* out, const T* x, i64 n, int op, double p1, double p2) {
    const T q1 = (T)p1, q2 = (T)p2;
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        out[i] = unary_f(op, x[i], q1, q2);
    }
}

// dx[i] = dy[i] * f'(x[i]) from x and / or the forward output y; x or y may be null when the op does not read
// it (then 0 is used, as in CpuBackend). dx may alias dy.
template <typename T>
__device__ void unary_backward(T* dx, const T* x, const T* y, const T* dy, i64 n, int op, double p1, double p2) {
    const T q1 = (T)p1, q2 = (T)p2;
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        const T xv = x != nullptr ? x[i] : (T)0;
        const T yv = y != nullptr ? y[i] : (T)0;
        dx[i] = unary_grad(op, xv, yv, dy[i], q1, q2);
    }
}

// out[i] = a[i] (op) b[i], all of n elements; out may alias a or b.
template <typename T>
__device__ void binary_forward(T* out, const T* a, const T* b, i64 n, int op) {
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        out[i] = binary_f(op, a[i], b[i]);
    }
}

template <typename T, typename I>
__device__ __forceinline__ void binary_row_loop(T* out, const T* a, const T* b, I n, I cols, int op) {
    for (I i = (I)global_thread(); i < n; i += (I)global_stride()) {
        out[i] = binary_f(op, a[i], b[i % cols]);
    }
}

// out[r, c] = a[r, c] (op) b[c] for a, out [rows, cols] and b [cols] (the bias add when op is ADD).
template <typename T>
__device__ void binary_row_forward(T* out, const T* a, const T* b, i64 rows, i64 cols, int op) {
    const u64 n = (u64)rows * (u64)cols;
    if (n + global_stride() <= 0xffffffffull) {
        binary_row_loop<T, unsigned>(out, a, b, (unsigned)n, (unsigned)cols, op);
    } else {
        binary_row_loop<T, u64>(out, a, b, n, (u64)cols, op);
    }
}

template <typename T, typename I>
__device__ __forceinline__ void binary_broadcast_loop(T* out, const T* a, const T* b, I n,
                                                      const BroadcastArgs& args, int op) {
    for (I i = (I)global_thread(); i < n; i += (I)global_stride()) {
        I oa, ob;
        broadcast_offsets<I>(args, i, oa, ob);
        out[i] = binary_f(op, a[oa], b[ob]);
    }
}

// out = a (op) b with NumPy broadcasting: out has n elements laid out by args.dims, and a, b are read
// through args.a_strides, args.b_strides (0 along broadcast dimensions).
template <typename T>
__device__ void binary_broadcast_forward(T* out, const T* a, const T* b, i64 n, BroadcastArgs args, int op) {
    if ((u64)n + global_stride() <= 0xffffffffull) {
        binary_broadcast_loop<T, unsigned>(out, a, b, (unsigned)n, args, op);
    } else {
        binary_broadcast_loop<T, u64>(out, a, b, (u64)n, args, op);
    }
}

// An element of y from the epilogue's result, and back: T's own, or (Y = bf16) float rounded to bfloat16.
template <typename Y, typename T> __device__ __forceinline__ Y epilogue_store(T v) { return (Y)v; }
template <> __device__ __forceinline__ bf16 epilogue_store<bf16, float>(float v) { return bf16_from_float(v); }
template <typename T, typename Y> __device__ __forceinline__ T epilogue_load(Y v) { return (T)v; }
template <> __device__ __forceinline__ float epilogue_load<float, bf16>(bf16 v) { return bf16_to_float(v); }

// The dense layer's epilogue over z, y [rows, cols]: v = z[r, c] + bias[c] (bias may be null); z[r, c] = v unless y
// is z; y[r, c] = f(v; p1, p2), or v itself when op < 0 (no activation), plus res[r, c] when res is not null (a
// residual block's skip path: then op < 0). y is of z's type T, or (Y = bf16, T = float: autocast's activations)
// the float result rounded once to bfloat16.
template <typename T, typename Y, typename I>
__device__ __forceinline__ void bias_act_loop(Y* y, T* z, const T* bias, const T* res, I n, I cols, int op, T q1,
                                              T q2) {
    for (I i = (I)global_thread(); i < n; i += (I)global_stride()) {
        const T v = bias != nullptr ? z[i] + bias[i % cols] : z[i];
        if ((void*)y != (void*)z && bias != nullptr) z[i] = v;
        const T f = op < 0 ? v : unary_f(op, v, q1, q2);
        y[i] = epilogue_store<Y, T>(res != nullptr ? f + res[i] : f);
    }
}

template <typename T, typename Y>
__device__ void bias_act_forward(Y* y, T* z, const T* bias, const T* res, i64 rows, i64 cols, int op, double p1,
                                 double p2) {
    const u64 n = (u64)rows * (u64)cols;
    if (n + global_stride() <= 0xffffffffull) {
        bias_act_loop<T, Y, unsigned>(y, z, bias, res, (unsigned)n, (unsigned)cols, op, (T)p1, (T)p2);
    } else {
        bias_act_loop<T, Y, u64>(y, z, bias, res, n, (u64)cols, op, (T)p1, (T)p2);
    }
}

#define BIAS_ROWS 8  // blockDim.y of bias_act_backward

// The backward of the epilogue over [rows, cols]: dz = dy f'(z or y) (dz = dy when op < 0, written only when dz is
// not null), and the column sums of dz. Threads (32, BIAS_ROWS): a warp reads 32 adjacent columns of one row, so
// every access is coalesced. Blocks: x over tiles of 32 columns, y over `chunks` chunks of rows. With one chunk the
// sums go to dbias (T, may be null); with more, chunk k's go to part[k, c] (double; null when there is no dbias),
// which reduce_cols_finish (reduce.cu) then adds up in chunk order. For RELU z may be null: y > 0 exactly where
// z > 0. y is of type Y: T, or bfloat16 (autocast's activation, read as float).
template <typename T, typename Y>
__device__ void bias_act_backward(T* dz, T* dbias, double* part, const T* z, const Y* y, const T* dy, i64 rows,
                                  i64 cols, i64 chunks, int op, double p1, double p2) {
    __shared__ double sums[BIAS_ROWS][33];
    const T q1 = (T)p1, q2 = (T)p2;
    const i64 chunk = (rows + chunks - 1) / chunks;
    const bool x_from_y = z == nullptr && op == UNARY_RELU && y != nullptr;
    for (i64 tile = blockIdx.x; tile * 32 < cols; tile += gridDim.x) {
        for (i64 k = blockIdx.y; k < chunks; k += gridDim.y) {
            const i64 c = tile * 32 + threadIdx.x;
            const i64 r1 = (k + 1) * chunk < rows ? (k + 1) * chunk : rows;
            double acc = 0.0;
            if (c < cols) {
                for (i64 r = k * chunk + threadIdx.y; r < r1; r += BIAS_ROWS) {
                    const i64 i = r * cols + c;
                    T g = dy[i];
                    if (op >= 0) {
                        const T yv = y != nullptr ? epilogue_load<T, Y>(y[i]) : (T)0;
                        g = unary_grad(op, z != nullptr ? z[i] : (x_from_y ? yv : (T)0), yv, g, q1, q2);
                    }
                    if (dz != nullptr) dz[i] = g;
                    acc += (double)g;
                }
            }
            sums[threadIdx.y][threadIdx.x] = acc;
            __syncthreads();
            if (threadIdx.y == 0 && c < cols) {
                double s = 0.0;
                for (int j = 0; j < BIAS_ROWS; j++) s += sums[j][threadIdx.x];
                if (chunks > 1) {
                    if (part != nullptr) part[k * cols + c] = s;
                } else if (dbias != nullptr) {
                    dbias[c] = (T)s;
                }
            }
            __syncthreads();
        }
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

#define ELEMENTWISE_ENTRIES(T, S)                                                                                      \
    KERNEL __launch_bounds__(256) unary_forward_##S(T* out, const T* x, i64 n, int op, double p1, double p2) {         \
        unary_forward<T>(out, x, n, op, p1, p2);                                                                       \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) unary_backward_##S(T* dx, const T* x, const T* y, const T* dy, i64 n,                \
                                                     int op, double p1, double p2) {                                   \
        unary_backward<T>(dx, x, y, dy, n, op, p1, p2);                                                                \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) binary_forward_##S(T* out, const T* a, const T* b, i64 n, int op) {                  \
        binary_forward<T>(out, a, b, n, op);                                                                           \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) binary_row_forward_##S(T* out, const T* a, const T* b, i64 rows, i64 cols,           \
                                                         int op) {                                                     \
        binary_row_forward<T>(out, a, b, rows, cols, op);                                                              \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) binary_broadcast_forward_##S(T* out, const T* a, const T* b, i64 n,                  \
                                                               BroadcastArgs args, int op) {                           \
        binary_broadcast_forward<T>(out, a, b, n, args, op);                                                           \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) bias_act_forward_##S(T* y, T* z, const T* bias, const T* res, i64 rows, i64 cols, \
                                                       int op, double p1, double p2) {                                 \
        bias_act_forward<T, T>(y, z, bias, res, rows, cols, op, p1, p2);                                               \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) bias_act_backward_##S(T* dz, T* dbias, double* part, const T* z, const T* y,         \
                                                        const T* dy, i64 rows, i64 cols, i64 chunks, int op,           \
                                                        double p1, double p2) {                                        \
        bias_act_backward<T, T>(dz, dbias, part, z, y, dy, rows, cols, chunks, op, p1, p2);                            \
    }

ELEMENTWISE_ENTRIES(float, f32)
ELEMENTWISE_ENTRIES(double, f64)

// The epilogue and its backward of float32 with y in bfloat16 (autocast's activations between dense layers).
KERNEL __launch_bounds__(256) bias_act_half_forward_f32(bf16* y, float* z, const float* bias, const float* res,
                                                        i64 rows, i64 cols, int op, double p1, double p2) {
    bias_act_forward<float, bf16>(y, z, bias, res, rows, cols, op, p1, p2);
}

KERNEL __launch_bounds__(256) bias_act_half_backward_f32(float* dz, float* dbias, double* part, const float* z,
                                                         const bf16* y, const float* dy, i64 rows, i64 cols,
                                                         i64 chunks, int op, double p1, double p2) {
    bias_act_backward<float, bf16>(dz, dbias, part, z, y, dy, rows, cols, chunks, op, p1, p2);
}
