// Counter-based random fills: element i of a call with seed s and offset o is a pure function of (s, o + i),
// computed exactly as CpuMath.splitMix64 / uniform / normal, in double, so both backends draw the same numbers
// (up to the last bits of log, sqrt, cos and sin for the normal). Definition: CpuReference.random. The offset is
// an argument (random_*) or a counter in device memory that the launch advances (random_at_*: dropout, whose masks
// then differ on every replay of a CUDA graph). Launcher: RandomKernels.java.
#include "common.cuh"

// Distribution codes = ordinals of dev.backprop4j.backend.Distribution.
// @enum Distribution DIST_
enum DistributionCode {
    DIST_UNIFORM = 0,    // a + (b - a) u, u uniform on [0, 1)
    DIST_NORMAL = 1,     // a + b z, z standard normal (Box-Muller on counter pairs)
    DIST_BERNOULLI = 2,  // u < a ? 1 : 0
};
// @end

// SplitMix64 of counter i under seed (Java long arithmetic is arithmetic mod 2^64, >>> a logical shift).
__device__ __forceinline__ u64 splitmix64(u64 seed, u64 i) {
    u64 z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform on [0, 1) from the top 53 bits.
__device__ __forceinline__ double uniform01(u64 seed, u64 i) {
    return (double)(splitmix64(seed, i) >> 11) * 0x1.0p-53;
}

// out[i] = a + (b - a) u(seed, offset + i)  (UNIFORM)  or  u(seed, offset + i) < a ? 1 : 0  (BERNOULLI).
template <typename T>
__device__ void random_uniform_like(T* out, i64 n, int dist, double a, double b, u64 seed, u64 offset) {
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        const double u = uniform01(seed, offset + i);
        const double v = dist == DIST_BERNOULLI ? (u < a ? 1.0 : 0.0) : a + (b - a) * u;
        out[i] = from_double<T>(v);
    }
}

// NORMAL: counters 2k and 2k+1 share u1 = 1 - u(2k) (in (0, 1], so the log is finite) and u2 = u(2k+1):
// r = sqrt(-2 ln u1), theta = 2 pi u2; counter 2k gets r cos theta, counter 2k+1 gets r sin theta. Each thread
// handles whole pairs and writes the one or two of them that fall in [offset, offset + n).
template <typename T>
__device__ void random_normal(T* out, i64 n, double a, double b, u64 seed, u64 offset) {
    const u64 odd = offset & 1ull;
    const u64 first = offset - odd;  // even counter of the first pair
    const u64 pairs = (odd + (u64)n + 1) / 2;
    for (u64 k = global_thread(); k < pairs; k += global_stride()) {
        const u64 c = first + 2 * k;
        const double u1 = 1.0 - uniform01(seed, c);
        const double u2 = uniform01(seed, c + 1);
        const double r = sqrt(-2.0 * log(u1));
        const double theta = 2.0 * 3.141592653589793 * u2;  // 2.0 * Math.PI * u2
        double s, co;
        sincos(theta, &s, &co);
        const i64 even = (i64)(2 * k) - (i64)odd;  // element of counter c
        if (even >= 0) out[even] = from_double<T>(a + b * (r * co));
        if (even + 1 < n) out[even + 1] = from_double<T>(a + b * (r * s));
    }
}

template <typename T>
__device__ void random_fill(T* out, i64 n, int dist, double a, double b, u64 seed, u64 offset) {
    if (dist == DIST_NORMAL) {
        random_normal<T>(out, n, a, b, seed, offset);
    } else {
        random_uniform_like<T>(out, n, dist, a, b, seed, offset);
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

#define RANDOM_ENTRY(T, S)                                                                                             \
    KERNEL __launch_bounds__(256) random_##S(T* out, i64 n, int dist, double a, double b, u64 seed,                    \
                                             u64 offset) {                                                             \
        random_fill<T>(out, n, dist, a, b, seed, offset);                                                              \
    }

// The offset is counter[0] (an integer held in a double); the launch's last block advances it by n rounded up to
// even (as Generator.take, so that normal pairs stay aligned).
#define RANDOM_AT_ENTRY(T, S)                                                                                          \
    KERNEL __launch_bounds__(256) random_at_##S(T* out, i64 n, int dist, double a, double b, u64 seed,                 \
                                                double* counter, unsigned* ticket) {                                   \
        random_fill<T>(out, n, dist, a, b, seed, (u64)*counter);                                                       \
        if (last_block_done(ticket) && threadIdx.x == 0) *counter += (double)(n + (n & 1));                            \
    }

RANDOM_ENTRY(float, f32)
RANDOM_ENTRY(double, f64)
RANDOM_ENTRY(int, i32)
RANDOM_AT_ENTRY(float, f32)
RANDOM_AT_ENTRY(double, f64)
RANDOM_AT_ENTRY(int, i32)
