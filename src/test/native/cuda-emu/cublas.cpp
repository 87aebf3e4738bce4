// libcublas.so.13 of the CUDA emulator: the cuBLAS functions backprop4j calls, reached through JCuda's libJCublas2
// and the project's real libcublas.so.12 -> .so.13 forwarding shim. GEMMs are plain column-major loops with
// cuBLAS's argument checks and FP32 (or FP64) accumulation; with CUBLAS_TF32_TENSOR_OP_MATH, FP32 inputs are
// rounded to TF32 (10 mantissa bits, to nearest) first, as tensor cores do, so a test can tell whether TF32 was
// applied. Every matrix's extent is checked against the live device allocations, and the work is submitted to
// the handle's stream (so it is recorded while that stream is being captured into a graph).
#include <cstring>
#include <memory>
#include <vector>

#include "emu_runtime.h"

typedef int cublasStatus_t;

enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
};

enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };
enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 };

struct Handle {
    void* stream = nullptr;
    int math = CUBLAS_DEFAULT_MATH;
    int pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

#define API extern "C" EMU_API

API cublasStatus_t cublasGetProperty(int type, int* value) {
    switch (type) {
        case 0: *value = 13; return CUBLAS_STATUS_SUCCESS;  // MAJOR_VERSION
        case 1: *value = 0; return CUBLAS_STATUS_SUCCESS;   // MINOR_VERSION
        case 2: *value = 0; return CUBLAS_STATUS_SUCCESS;   // PATCH_LEVEL
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

API cublasStatus_t cublasCreate_v2(Handle** h) {
    if (h == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *h = new Handle();
    return CUBLAS_STATUS_SUCCESS;
}

API cublasStatus_t cublasDestroy_v2(Handle* h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

API cublasStatus_t cublasSetStream_v2(Handle* h, void* stream) {
    if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

API cublasStatus_t cublasSetMathMode(Handle* h, int mode) {
    if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

API cublasStatus_t cublasSetPointerMode_v2(Handle* h, int mode) {
    if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_POINTER_MODE_HOST) return CUBLAS_STATUS_NOT_SUPPORTED;  // only host scalars are emulated
    h->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

// FP32 to TF32: round the mantissa to 10 bits, to nearest with ties away from zero (cvt.rna.tf32.f32).
static float to_tf32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) {  // leave inf and NaN alone
        u = (u + 0x1000u) & 0xffffe000u;
    }
    memcpy(&x, &u, 4);
    return x;
}

// Elements a column-major matrix of rows x cols with leading dimension ld spans (0 when empty).
static uint64_t extent(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (uint64_t)(cols - 1) * ld + rows;
}

// A bfloat16 (its bits) as the float it is, exactly.
static float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float load(float v) { return v; }
static double load(double v) { return v; }
static float load(uint16_t v) { return from_bf16(v); }

// C (T) = alpha op(A) op(B) + beta C, accumulated in T, for A and B of type In (T itself, or bfloat16 bits read as
// float: cublasGemmEx with CUDA_R_16BF inputs and CUBLAS_COMPUTE_32F).
template <typename T, typename In = T>
struct Gemm {
    int ta, tb, m, n, k;
    T alpha, beta;
    const In* a;
    int lda;
    long long sa;
    const In* b;
    int ldb;
    long long sb;
    T* c;
    int ldc;
    long long sc;
    int batch;
    bool tf32;

    // op(A)[i, l] of matrix p of the batch
    T A(int p, int i, int l) const {
        const In* base = a + p * sa;
        T v = load(ta == CUBLAS_OP_N ? base[i + (long long)l * lda] : base[l + (long long)i * lda]);
        return tf32 ? static_cast<T>(to_tf32(static_cast<float>(v))) : v;
    }
    T B(int p, int l, int j) const {
        const In* base = b + p * sb;
        T v = load(tb == CUBLAS_OP_N ? base[l + (long long)j * ldb] : base[j + (long long)l * ldb]);
        return tf32 ? static_cast<T>(to_tf32(static_cast<float>(v))) : v;
    }

    void run() const {
        std::vector<T> opa((size_t)m * k), col((size_t)m);
        for (int p = 0; p < batch; p++) {
            for (int l = 0; l < k; l++)
                for (int i = 0; i < m; i++) opa[i + (size_t)l * m] = A(p, i, l);
            T* cp = c + p * sc;
            for (int j = 0; j < n; j++) {
                std::fill(col.begin(), col.end(), T(0));
                for (int l = 0; l < k; l++) {
                    const T bl = B(p, l, j);
                    const T* al = &opa[(size_t)l * m];
                    for (int i = 0; i < m; i++) col[i] += al[i] * bl;
                }
                T* cj = cp + (long long)j * ldc;
                for (int i = 0; i < m; i++) cj[i] = beta == T(0) ? alpha * col[i] : alpha * col[i] + beta * cj[i];
            }
        }
    }
};

template <typename T, typename In = T>
static cublasStatus_t gemm(const char* name, Handle* h, int ta, int tb, int m, int n, int k, const T* alpha,
                           const In* a, int lda, long long sa, const In* b, int ldb, long long sb, const T* beta, T* c,
                           int ldc, long long sc, int batch) {
    if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
    bool ops_ok = (ta == CUBLAS_OP_N || ta == CUBLAS_OP_T || ta == CUBLAS_OP_C) &&
                  (tb == CUBLAS_OP_N || tb == CUBLAS_OP_T || tb == CUBLAS_OP_C);
    int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
    int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
    if (!ops_ok || m < 0 || n < 0 || k < 0 || batch < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) ||
        ldc < std::max(1, m) || alpha == nullptr || beta == nullptr) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    emu::count(emu::CUBLAS_CALLS);
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
    auto span = [&](uint64_t matrix, long long stride, uint64_t elem) {
        return matrix == 0 ? 0 : ((uint64_t)(batch - 1) * stride + matrix) * elem;
    };
    if (k > 0) {
        emu::check_device_range((std::string(name) + " A").c_str(), (uint64_t)a,
                                span(extent(a_rows, a_cols, lda), sa, sizeof(In)));
        emu::check_device_range((std::string(name) + " B").c_str(), (uint64_t)b,
                                span(extent(b_rows, b_cols, ldb), sb, sizeof(In)));
    }
    emu::check_device_range((std::string(name) + " C").c_str(), (uint64_t)c, span(extent(m, n, ldc), sc, sizeof(T)));
    Gemm<T, In> g{ta, tb, m, n, k, *alpha, *beta, a, lda, sa, b, ldb, sb, c, ldc, sc, batch,
                  sizeof(In) == 4 && h->math == CUBLAS_TF32_TENSOR_OP_MATH};
    return emu::stream_submit(h->stream, name, [g] { g.run(); }) == 0 ? CUBLAS_STATUS_SUCCESS
                                                                      : CUBLAS_STATUS_EXECUTION_FAILED;
}

API cublasStatus_t cublasSgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* a,
                                  int lda, const float* b, int ldb, const float* beta, float* c, int ldc) {
    return gemm<float>("cublasSgemm", h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

API cublasStatus_t cublasDgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const double* alpha,
                                  const double* a, int lda, const double* b, int ldb, const double* beta, double* c,
                                  int ldc) {
    return gemm<double>("cublasDgemm", h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

API cublasStatus_t cublasSgemmStridedBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha,
                                             const float* a, int lda, long long sa, const float* b, int ldb,
                                             long long sb, const float* beta, float* c, int ldc, long long sc,
                                             int batch) {
    return gemm<float>("cublasSgemmStridedBatched", h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc,
                       sc, batch);
}

API cublasStatus_t cublasDgemmStridedBatched(Handle* h, int ta, int tb, int m, int n, int k, const double* alpha,
                                             const double* a, int lda, long long sa, const double* b, int ldb,
                                             long long sb, const double* beta, double* c, int ldc, long long sc,
                                             int batch) {
    return gemm<double>("cublasDgemmStridedBatched", h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc,
                        sc, batch);
}

// Mixed precision: bfloat16 A and B (CUDA_R_16BF), float32 C (CUDA_R_32F), CUBLAS_COMPUTE_32F (alpha and beta
// float). Any other combination is CUBLAS_STATUS_NOT_SUPPORTED, as the legacy computeType values are for the names
// without _new in JCublas2 (a caller must check the status).
enum { CUDA_R_32F = 0, CUDA_R_16BF = 14, CUBLAS_COMPUTE_32F = 68 };

static bool bf16_in_f32_out(int atype, int btype, int ctype, int compute) {
    return atype == CUDA_R_16BF && btype == CUDA_R_16BF && ctype == CUDA_R_32F && compute == CUBLAS_COMPUTE_32F;
}

API cublasStatus_t cublasGemmEx(Handle* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* a,
                                int atype, int lda, const void* b, int btype, int ldb, const void* beta, void* c,
                                int ctype, int ldc, int compute, int algo) {
    (void)algo;
    if (!bf16_in_f32_out(atype, btype, ctype, compute)) return CUBLAS_STATUS_NOT_SUPPORTED;
    return gemm<float, uint16_t>("cublasGemmEx", h, ta, tb, m, n, k, (const float*)alpha, (const uint16_t*)a, lda,
                                 0, (const uint16_t*)b, ldb, 0, (const float*)beta, (float*)c, ldc, 0, 1);
}

API cublasStatus_t cublasGemmStridedBatchedEx(Handle* h, int ta, int tb, int m, int n, int k, const void* alpha,
                                              const void* a, int atype, int lda, long long sa, const void* b,
                                              int btype, int ldb, long long sb, const void* beta, void* c, int ctype,
                                              int ldc, long long sc, int batch, int compute, int algo) {
    (void)algo;
    if (!bf16_in_f32_out(atype, btype, ctype, compute)) return CUBLAS_STATUS_NOT_SUPPORTED;
    return gemm<float, uint16_t>("cublasGemmStridedBatchedEx", h, ta, tb, m, n, k, (const float*)alpha,
                                 (const uint16_t*)a, lda, sa, (const uint16_t*)b, ldb, sb, (const float*)beta,
                                 (float*)c, ldc, sc, batch);
}
