/*
 * A stand-in libcublas.so.13 for CublasShimForwardingTest: every function succeeds only for the exact arguments
 * the test's ForwardingCheck passes through JCublas2 and the libcublas.so.12 shim, so a call that loses or
 * reorders an argument on the way fails with status 7. Built with gcc by the test, with a version script that
 * exports its cublas* symbols as libcublas.so.13; never shipped.
 */
#include <stddef.h>
typedef void *handle_t;
#define H ((handle_t) 0xC0B1A5)
#define BAD 7
int cublasGetProperty(int type, int *value) {
    static const int v[] = {13, 77, 5};
    if (type < 0 || type > 2) return BAD;
    *value = v[type];
    return 0;
}
int cublasCreate_v2(handle_t *h) { *h = H; return 0; }
int cublasSetStream_v2(handle_t h, void *s) { return h == H && s == NULL ? 0 : BAD; }
int cublasSetPointerMode_v2(handle_t h, int mode) { return h == H && mode == 0 ? 0 : BAD; }
int cublasSetMathMode(handle_t h, int mode) { return h == H && mode == 3 ? 0 : BAD; }
static int same(handle_t h, int ta, int tb, int m, int n, int k, const void *A, int lda, const void *B,
                int ldb, void *C, int ldc) {
    return h == H && ta == 1 && tb == 0 && m == 2 && n == 3 && k == 4 && lda == 5 && ldb == 6 && ldc == 7
        && A == (void *) 0x1000 && B == (void *) 0x2000 && C == (void *) 0x3000;
}
static int strides(long long sA, long long sB, long long sC, int batch) {
    return sA == (1LL << 40) && sB == 0 && sC == 123456789LL && batch == 9;
}
int cublasSgemm_v2(handle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A,
                   int lda, const float *B, int ldb, const float *beta, float *C, int ldc) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && *alpha == 1.5f && *beta == -2.0f ? 0 : BAD;
}
int cublasDgemm_v2(handle_t h, int ta, int tb, int m, int n, int k, const double *alpha, const double *A,
                   int lda, const double *B, int ldb, const double *beta, double *C, int ldc) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && *alpha == 1.25 && *beta == -0.5 ? 0 : BAD;
}
int cublasSgemmStridedBatched(handle_t h, int ta, int tb, int m, int n, int k, const float *alpha,
                              const float *A, int lda, long long sA, const float *B, int ldb, long long sB,
                              const float *beta, float *C, int ldc, long long sC, int batch) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && strides(sA, sB, sC, batch)
        && *alpha == 1.5f && *beta == -2.0f ? 0 : BAD;
}
int cublasDgemmStridedBatched(handle_t h, int ta, int tb, int m, int n, int k, const double *alpha,
                              const double *A, int lda, long long sA, const double *B, int ldb,
                              long long sB, const double *beta, double *C, int ldc, long long sC,
                              int batch) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && strides(sA, sB, sC, batch)
        && *alpha == 1.25 && *beta == -0.5 ? 0 : BAD;
}
/* Mixed precision: bfloat16 A and B (CUDA_R_16BF = 14), float32 C (CUDA_R_32F = 0), CUBLAS_COMPUTE_32F = 68,
   CUBLAS_GEMM_DEFAULT = -1. */
static int mixed(int atype, int btype, int ctype, int compute, int algo) {
    return atype == 14 && btype == 14 && ctype == 0 && compute == 68 && algo == -1;
}
int cublasGemmEx(handle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int atype,
                 int lda, const void *B, int btype, int ldb, const void *beta, void *C, int ctype, int ldc,
                 int compute, int algo) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && mixed(atype, btype, ctype, compute, algo)
        && *(const float *) alpha == 1.5f && *(const float *) beta == -2.0f ? 0 : BAD;
}
int cublasGemmStridedBatchedEx(handle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A,
                               int atype, int lda, long long sA, const void *B, int btype, int ldb, long long sB,
                               const void *beta, void *C, int ctype, int ldc, long long sC, int batch, int compute,
                               int algo) {
    return same(h, ta, tb, m, n, k, A, lda, B, ldb, C, ldc) && strides(sA, sB, sC, batch)
        && mixed(atype, btype, ctype, compute, algo)
        && *(const float *) alpha == 1.5f && *(const float *) beta == -2.0f ? 0 : BAD;
}
