/*
 * libcublas.so.12 -> libcublas.so.13 forwarding shim.
 *
 * Why: JCuda 12.6.0's libJCublas2 has DT_NEEDED libcublas.so.12 and imports versioned symbols
 * (cublasSgemm_v2@libcublas.so.12). CUDA 13 machines (driver 580+) ship only libcublas.so.13. This library
 * has soname libcublas.so.12 and defines version node libcublas.so.12 (see libcublas12.map), so once it is
 * loaded, the dynamic linker uses it to satisfy libJCublas2; each function it defines forwards to the same
 * function of libcublas.so.13, opened with dlopen by soname (CublasLoader has already loaded that copy by
 * full path, so the soname resolves to it).
 *
 * Only the functions listed here exist. The JVM binds libJCublas2 lazily, so a function that is never called
 * needs no entry, but calling one that is missing aborts the JVM: every cuBLAS call backprop4j makes must be
 * here. The list is CublasLoader.SHIM_SYMBOLS on the Java side; CublasShimTest checks that both agree with
 * this file's exports and with what libJCublas2 imports.
 *
 * No CUDA headers are needed: handles and streams are opaque pointers, enums are ints, and the signatures
 * below are those of cublas_api.h (unchanged between CUDA 12 and 13 for these functions).
 * If libcublas.so.13 cannot be opened, every function returns CUBLAS_STATUS_NOT_INITIALIZED (which JCublas2
 * turns into an exception) after printing the dlopen error once on standard error.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

/*
 * Bind the dl functions to their oldest x86-64 version, so a shim built against glibc 2.34+ (where they moved into
 * libc.so.6 as GLIBC_2.34) still loads on older systems (RHEL 8: glibc 2.28), where they live in libdl.so.2.
 */
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");

typedef int cublasStatus_t;
typedef struct cublasContext *cublasHandle_t;
typedef struct CUstream_st *cudaStream_t;
typedef int cublasOperation_t;
typedef int cublasMath_t;
typedef int cublasPointerMode_t;
typedef int libraryPropertyType;
typedef int cudaDataType;
typedef int cublasComputeType_t;
typedef int cublasGemmAlgo_t;

#define CUBLAS_STATUS_NOT_INITIALIZED 1
#define TARGET "libcublas.so.13"

static void *target;
static int reported;

/* The handle of libcublas.so.13, opened on first use; dlopen is reference counted, so two racing opens are harmless. */
static void *open_target(void) {
    void *t = __atomic_load_n(&target, __ATOMIC_ACQUIRE);
    if (t == NULL) {
        t = dlopen(TARGET, RTLD_NOW | RTLD_LOCAL);
        if (t != NULL) {
            __atomic_store_n(&target, t, __ATOMIC_RELEASE);
        } else if (!__atomic_exchange_n(&reported, 1, __ATOMIC_ACQ_REL)) {
            fprintf(stderr, "backprop4j cuBLAS shim: cannot open %s: %s\n", TARGET, dlerror());
        }
    }
    return t;
}

/* The address of `name` in libcublas.so.13, or NULL (reported on standard error) when absent. */
static void *resolve(const char *name) {
    void *t = open_target();
    if (t == NULL) {
        return NULL;
    }
    void *f = dlsym(t, name);
    if (f == NULL) {
        fprintf(stderr, "backprop4j cuBLAS shim: %s has no symbol %s\n", TARGET, name);
    }
    return f;
}

/*
 * Defines `name` with parameter list `params`, forwarding the argument list `args` to the function of the same
 * name in libcublas.so.13. The resolved pointer is cached; the race between two first calls is benign (both store
 * the same value) and the atomics keep it free of undefined behaviour.
 */
#define FORWARD(name, params, args)                                                  \
    cublasStatus_t name params {                                                     \
        typedef cublasStatus_t (*fn_t) params;                                       \
        static fn_t fn;                                                              \
        fn_t f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);                             \
        if (f == NULL) {                                                             \
            f = (fn_t) resolve(#name);                                               \
            if (f == NULL) {                                                         \
                return CUBLAS_STATUS_NOT_INITIALIZED;                                \
            }                                                                        \
            __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                              \
        }                                                                            \
        return f args;                                                               \
    }

/* ---- handle and configuration ---------------------------------------------------------------------------- */

FORWARD(cublasCreate_v2, (cublasHandle_t *handle), (handle))
FORWARD(cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t stream), (handle, stream))
FORWARD(cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode), (handle, mode))
FORWARD(cublasSetPointerMode_v2, (cublasHandle_t handle, cublasPointerMode_t mode), (handle, mode))
FORWARD(cublasGetProperty, (libraryPropertyType type, int *value), (type, value))

/* ---- GEMM: C = alpha op(A) op(B) + beta C, column-major -------------------------------------------------------- */

FORWARD(cublasSgemm_v2,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const float *alpha, const float *A, int lda, const float *B, int ldb,
         const float *beta, float *C, int ldc),
        (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))

FORWARD(cublasDgemm_v2,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const double *alpha, const double *A, int lda, const double *B, int ldb,
         const double *beta, double *C, int ldc),
        (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))

FORWARD(cublasSgemmStridedBatched,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const float *alpha, const float *A, int lda, long long strideA, const float *B, int ldb, long long strideB,
         const float *beta, float *C, int ldc, long long strideC, int batchCount),
        (handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,
         batchCount))

FORWARD(cublasDgemmStridedBatched,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const double *alpha, const double *A, int lda, long long strideA, const double *B, int ldb,
         long long strideB, const double *beta, double *C, int ldc, long long strideC, int batchCount),
        (handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC,
         batchCount))

/* ---- mixed precision GEMM: bfloat16 inputs, float32 accumulation and output (computeType CUBLAS_COMPUTE_32F) ---- */

FORWARD(cublasGemmEx,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B, cudaDataType Btype, int ldb,
         const void *beta, void *C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
         cublasGemmAlgo_t algo),
        (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType,
         algo))

FORWARD(cublasGemmStridedBatchedEx,
        (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
         const void *alpha, const void *A, cudaDataType Atype, int lda, long long strideA, const void *B,
         cudaDataType Btype, int ldb, long long strideB, const void *beta, void *C, cudaDataType Ctype, int ldc,
         long long strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo),
        (handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc,
         strideC, batchCount, computeType, algo))
