// Helpers shared by the backprop4j kernels (kernels/*.cu). Every kernel is a template over the element
// type T instantiated as extern "C" float (_f32) and double (_f64) entry points, plus int (_i32) where
// the op moves or converts integers. Buffers are contiguous row-major; sizes are 64-bit; every loop is a
// grid-stride loop with a tail guard, so any size works with any grid.
//
// Numerics: elementwise math runs in T (float math for f32); sums, the softmax normaliser and the reductions
// accumulate in double for both types, as the CPU reference (CpuBackend) does. The Java reference's
// NaN-propagating Math.max/min and saturating (int) casts are reproduced by java_max/java_min/java_d2i.
#pragma once

#define KERNEL extern "C" __global__ void

typedef long long i64;
typedef unsigned long long u64;

// ---- grid-stride loops ------------------------------------------------------------------------------------

__device__ __forceinline__ u64 global_thread() {
    return (u64)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ u64 global_stride() {
    return (u64)gridDim.x * blockDim.x;
}

// ---- math in T: overloads so templates call the float or double function ----------------------------------

__device__ __forceinline__ float k_exp(float x) { return expf(x); }
__device__ __forceinline__ double k_exp(double x) { return exp(x); }
__device__ __forceinline__ float k_log(float x) { return logf(x); }
__device__ __forceinline__ double k_log(double x) { return log(x); }
__device__ __forceinline__ float k_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double k_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float k_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double k_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float k_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double k_abs(double x) { return fabs(x); }
__device__ __forceinline__ float k_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double k_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float k_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double k_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float k_erf(float x) { return erff(x); }
__device__ __forceinline__ double k_erf(double x) { return erf(x); }
__device__ __forceinline__ float k_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double k_erfc(double x) { return erfc(x); }

// Java Math.max / Math.min: NaN if either is NaN, and -0.0 < 0.0.
template <typename T>
__device__ __forceinline__ T java_max(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == 0 && b == 0) return signbit(a) ? b : a;
    return a >= b ? a : b;
}

template <typename T>
__device__ __forceinline__ T java_min(T a, T b) {
    if (a != a) return a;
    if (b != b) return b;
    if (a == 0 && b == 0) return signbit(a) ? a : b;
    return a <= b ? a : b;
}

// Java (int) of a double: truncation toward zero, saturating, NaN -> 0.
__device__ __forceinline__ int java_d2i(double v) {
    if (v != v) return 0;
    if (v >= 2147483647.0) return 2147483647;
    if (v <= -2147483648.0) return (-2147483647 - 1);
    return (int)v;
}

// bfloat16 as its bits: the upper half of a float32 (BFloat16.java). Storage only: casts, copies and layout.
struct bf16 {
    unsigned short bits;
};

// The bfloat16 nearest to f, ties to even; a NaN stays a quiet NaN (BFloat16.fromFloat).
__device__ __forceinline__ bf16 bf16_from_float(float f) {
    union { float f; unsigned u; } v;
    v.f = f;
    bf16 h;
    if ((v.u & 0x7fffffffu) > 0x7f800000u) {
        h.bits = (unsigned short)((v.u >> 16) | 0x0040u);
    } else {
        h.bits = (unsigned short)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
    }
    return h;
}

__device__ __forceinline__ float bf16_to_float(bf16 h) {
    union { unsigned u; float f; } v;
    v.u = (unsigned)h.bits << 16;
    return v.f;
}

// Stores a double into an element of type T as CpuBuffer.set does (bfloat16: through float, as Java rounds).
template <typename T> __device__ __forceinline__ T from_double(double v) { return (T)v; }
template <> __device__ __forceinline__ int from_double<int>(double v) { return java_d2i(v); }
template <> __device__ __forceinline__ bf16 from_double<bf16>(double v) { return bf16_from_float((float)v); }

// Reads an element of type T as CpuBuffer.get does.
template <typename T> __device__ __forceinline__ double to_double(T v) { return (double)v; }
template <> __device__ __forceinline__ double to_double<bf16>(bf16 v) { return (double)bf16_to_float(v); }

// ---- reductions ------------------------------------------------------------------------------------------

// The running maximum of CpuBackend.reduce: v replaces acc when larger or NaN, so NaN propagates.
__device__ __forceinline__ double max_step(double acc, double v) {
    return (v > acc || v != v) ? v : acc;
}

struct SumCombine {
    typedef double V;
    __device__ static V identity() { return 0.0; }
    __device__ static V combine(V a, V b) { return a + b; }
    __device__ static V shfl(V v, int off) { return __shfl_xor_sync(0xffffffffu, v, off); }
};

struct MaxCombine {
    typedef double V;
    __device__ static V identity() { return -INFINITY; }
    __device__ static V combine(V a, V b) { return max_step(a, b); }
    __device__ static V shfl(V v, int off) { return __shfl_xor_sync(0xffffffffu, v, off); }
};

// Reduces one value per thread over the whole block (blockDim.x a multiple of 32, at most 1024, 1-D) and
// returns the result to every thread. Safe to call repeatedly in a loop: it synchronises before reusing its
// shared scratch. The combination order is fixed by the launch shape, so results are deterministic.
template <typename R>
__device__ typename R::V block_reduce(typename R::V v) {
    __shared__ typename R::V warp_vals[32];
    __shared__ typename R::V result;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = (blockDim.x + 31) >> 5;
    for (int off = 16; off > 0; off >>= 1) {
        v = R::combine(v, R::shfl(v, off));
    }
    __syncthreads();  // earlier calls may still be reading warp_vals / result
    if (lane == 0) warp_vals[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? warp_vals[lane] : R::identity();
        for (int off = 16; off > 0; off >>= 1) {
            v = R::combine(v, R::shfl(v, off));
        }
        if (lane == 0) result = v;
    }
    __syncthreads();
    return result;
}

// ---- the last block of a launch ---------------------------------------------------------------------------

// Work a launch must do once, after all of its blocks, without a second launch (CUDA's threadFenceReduction
// sample): every block calls this once, with all of its threads, after its own reads and writes; it returns true
// in exactly one block, the last to arrive, to which every other block's writes are then visible. The ticket is
// an unsigned int in device memory that is 0 before the launch; the last block puts it back to 0, so launches on
// one stream (and replays of a graph that captured them) can share one ticket. Used to advance step counts and
// random-number offsets kept on the device (so a replayed CUDA graph counts on), and to finish a reduction.
__device__ __forceinline__ bool last_block_done(unsigned* ticket) {
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        const unsigned blocks = gridDim.x * gridDim.y * gridDim.z;
        last = atomicAdd(ticket, 1u) == blocks - 1;
        if (last) *ticket = 0;
    }
    __syncthreads();
    return last;
}

// ---- NumPy broadcasting ----------------------------------------------------------------------------------

#define MAX_RANK 8

// Passed by value. dims are the output's sizes (outermost first), a_strides / b_strides the element strides of
// each input aligned to the output's dimensions, 0 where the input is broadcast. The Java launcher merges
// adjacent dimensions first, so rank is usually 1 to 3. Layout: 25 consecutive 64-bit integers.
struct BroadcastArgs {
    i64 rank;
    i64 dims[MAX_RANK];
    i64 a_strides[MAX_RANK];
    i64 b_strides[MAX_RANK];
};

// Offsets in a and b of output element i; I is the index type (32-bit when the output has < 2^32 elements).
template <typename I>
__device__ __forceinline__ void broadcast_offsets(const BroadcastArgs& args, I i, I& oa, I& ob) {
    I a = 0, b = 0;
    for (int d = (int)args.rank - 1; d >= 0; d--) {
        const I size = (I)args.dims[d];
        const I q = i / size;
        const I idx = i - q * size;
        i = q;
        a += idx * (I)args.a_strides[d];
        b += idx * (I)args.b_strides[d];
    }
    oa = a;
    ob = b;
}

// ---- index errors -----------------------------------------------------------------------------------------

// Records an out-of-range label or index in a sticky record (see IndexCheck.java): err[0] keeps the smallest
// (row << 32 | (u32)value) reported since the host last cleared it, err[1] the limit of the launch that set it
// (launches on one stream never overlap, and all threads of a launch pass the same limit). Null err: not reported.
__device__ __forceinline__ void report_bad_index(u64* err, i64 row, int value, i64 limit) {
    if (err != nullptr) {
        const u64 mine = ((u64)row << 32) | (u64)(unsigned)value;
        if (atomicMin(err, mine) > mine) {
            err[1] = (u64)limit;
        }
    }
}
