// Layer normalisation over the last axis of [rows, cols] and its backward. Definitions: Backend.layerNorm and
// Backend.layerNormBackward (reference loops: ReferenceNorms). Launchers: NormKernels.java.
//
// One block per row for the forward and for dx: the row's sums (mean, squared deviations; the backward's sum of
// g and of g xhat) accumulate in double and are reduced in the block (block_reduce's fixed order), every result
// rounded once to T. The parameter gradients are column sums over the rows: one thread per column walks the rows
// in order (reads coalesced along the columns), so they are deterministic and, in double, equal to the CPU's.
#include "common.cuh"

template <typename T>
__device__ void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, i64 rows,
                                  i64 cols, double eps) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        double s = 0.0;
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) s += (double)xr[c];
        const double m = block_reduce<SumCombine>(s) / (double)cols;
        double q = 0.0;
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            const double d = (double)xr[c] - m;
            q += d * d;
        }
        const double inv = 1.0 / sqrt(block_reduce<SumCombine>(q) / (double)cols + eps);
        T* yr = y + r * cols;
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            double v = ((double)xr[c] - m) * inv;
            if (gamma != nullptr) v *= (double)gamma[c];
            if (beta != nullptr) v += (double)beta[c];
            yr[c] = (T)v;
        }
        if (threadIdx.x == 0) {
            mean[r] = (T)m;
            rstd[r] = (T)inv;
        }
    }
}

// dx = rstd (g - sum(g) / cols - xhat sum(g xhat) / cols), g = dy gamma, xhat = (x - mean) rstd.
template <typename T>
__device__ void layernorm_backward_input(T* dx, const T* x, const T* mean, const T* rstd, const T* gamma,
                                         const T* dy, i64 rows, i64 cols) {
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        const T* dyr = dy + r * cols;
        const double m = (double)mean[r];
        const double inv = (double)rstd[r];
        double sg = 0.0;
        double sgx = 0.0;
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            const double g = (double)dyr[c] * (gamma == nullptr ? 1.0 : (double)gamma[c]);
            sg += g;
            sgx += g * (((double)xr[c] - m) * inv);
        }
        const double a = block_reduce<SumCombine>(sg) / (double)cols;
        const double b = block_reduce<SumCombine>(sgx) / (double)cols;
        T* dxr = dx + r * cols;
        for (i64 c = threadIdx.x; c < cols; c += blockDim.x) {
            const double g = (double)dyr[c] * (gamma == nullptr ? 1.0 : (double)gamma[c]);
            const double xhat = ((double)xr[c] - m) * inv;
            dxr[c] = (T)(inv * (g - a - xhat * b));
        }
    }
}

// dgamma[c] = sum_r dy xhat, dbeta[c] = sum_r dy (either may be null): one thread per column, rows in order.
template <typename T>
__device__ void layernorm_backward_params(T* dgamma, T* dbeta, const T* x, const T* mean, const T* rstd,
                                          const T* dy, i64 rows, i64 cols) {
    for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)gridDim.x * blockDim.x) {
        double sd = 0.0;
        double sdx = 0.0;
        for (i64 r = 0; r < rows; r++) {
            const i64 i = r * cols + c;
            const double d = (double)dy[i];
            sd += d;
            sdx += d * (((double)x[i] - (double)mean[r]) * (double)rstd[r]);
        }
        if (dgamma != nullptr) dgamma[c] = (T)sdx;
        if (dbeta != nullptr) dbeta[c] = (T)sd;
    }
}

#define NORM_ENTRIES(T, S)                                                                                             \
    KERNEL __launch_bounds__(1024) layernorm_forward_##S(T* y, T* mean, T* rstd, const T* x, const T* gamma,           \
                                                         const T* beta, i64 rows, i64 cols, double eps) {              \
        layernorm_forward<T>(y, mean, rstd, x, gamma, beta, rows, cols, eps);                                          \
    }                                                                                                                  \
    KERNEL __launch_bounds__(1024) layernorm_backward_input_##S(T* dx, const T* x, const T* mean, const T* rstd,       \
                                                                const T* gamma, const T* dy, i64 rows, i64 cols) {     \
        layernorm_backward_input<T>(dx, x, mean, rstd, gamma, dy, rows, cols);                                         \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) layernorm_backward_params_##S(T* dgamma, T* dbeta, const T* x, const T* mean,        \
                                                                const T* rstd, const T* dy, i64 rows, i64 cols) {      \
        layernorm_backward_params<T>(dgamma, dbeta, x, mean, rstd, dy, rows, cols);                                    \
    }

NORM_ENTRIES(float, f32)
NORM_ENTRIES(double, f64)
