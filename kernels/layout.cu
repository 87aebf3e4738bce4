// Memory and layout kernels: fill, cast, narrow (block copy along an axis), broadcast (expand), batched
// transpose, and the row gather / scatter-add pair. Definitions: CpuBackend.java. Launchers: LayoutKernels.java.
#include "common.cuh"

// out[i] = value for i < n, converted as CpuBackend.fill does ((float) value, value, (int) value).
template <typename T>
__device__ void fill(T* out, i64 n, double value) {
    const T v = from_double<T>(value);
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        out[i] = v;
    }
}

// dst[i] = (D) src[i] for i < n, through double as CpuBuffer.get/set: float to int truncates toward zero
// (saturating, NaN -> 0), int to float rounds to nearest, to bfloat16 rounds through float to nearest even.
template <typename S, typename D>
__device__ void cast(D* dst, const S* src, i64 n) {
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
        dst[i] = from_double<D>(to_double<S>(src[i]));
    }
}

template <typename T, typename I>
__device__ __forceinline__ void narrow_loop(T* dst, const T* src, I total, I block, I inner, I src_dim, I src_start,
                                            I dst_dim, I dst_start) {
    for (I i = (I)global_thread(); i < total; i += (I)global_stride()) {
        const I o = i / block;
        const I k = i - o * block;
        dst[(o * dst_dim + dst_start) * inner + k] = src[(o * src_dim + src_start) * inner + k];
    }
}

// For o < outer, j < len, i < inner: dst[o, dst_start + j, i] = src[o, src_start + j, i], where src has
// src_dim and dst has dst_dim entries along the axis.
template <typename T>
__device__ void narrow(T* dst, const T* src, i64 outer, i64 src_dim, i64 inner, i64 src_start, i64 dst_dim,
                       i64 dst_start, i64 len) {
    const u64 block = (u64)len * (u64)inner;
    const u64 total = (u64)outer * block;
    const u64 src_size = (u64)outer * (u64)src_dim * (u64)inner;
    const u64 dst_size = (u64)outer * (u64)dst_dim * (u64)inner;
    const u64 limit = 0xffffffffull - global_stride();
    if (total <= limit && src_size <= limit && dst_size <= limit) {
        narrow_loop<T, unsigned>(dst, src, (unsigned)total, (unsigned)block, (unsigned)inner, (unsigned)src_dim,
                                 (unsigned)src_start, (unsigned)dst_dim, (unsigned)dst_start);
    } else {
        narrow_loop<T, u64>(dst, src, total, block, (u64)inner, (u64)src_dim, (u64)src_start, (u64)dst_dim,
                            (u64)dst_start);
    }
}

template <typename T, typename I>
__device__ __forceinline__ void broadcast_loop(T* out, const T* x, I n, const BroadcastArgs& args) {
    for (I i = (I)global_thread(); i < n; i += (I)global_stride()) {
        I ox, unused;
        broadcast_offsets<I>(args, i, ox, unused);
        out[i] = x[ox];
    }
}

// out[i] = x[offset of i through args.a_strides] for the n elements of the output (args.b_strides unused).
template <typename T>
__device__ void broadcast(T* out, const T* x, i64 n, BroadcastArgs args) {
    if ((u64)n + global_stride() <= 0xffffffffull) {
        broadcast_loop<T, unsigned>(out, x, (unsigned)n, args);
    } else {
        broadcast_loop<T, u64>(out, x, (u64)n, args);
    }
}

#define TILE 32
#define TILE_ROWS 8

// out[b, j, i] = x[b, i, j] for batch matrices x [rows, cols], out [cols, rows]. Block (32, 8) moves one 32x32
// tile through shared memory (padded against bank conflicts) so reads and writes are both coalesced;
// blocks loop over tiles and matrices past the grid.
template <typename T>
__device__ void transpose(T* out, const T* x, i64 batch, i64 rows, i64 cols) {
    __shared__ T tile[TILE][TILE + 1];
    const i64 tiles_r = (rows + TILE - 1) / TILE;
    const i64 tiles_c = (cols + TILE - 1) / TILE;
    const i64 plane = rows * cols;
    for (i64 b = blockIdx.z; b < batch; b += gridDim.z) {
        const T* xb = x + b * plane;
        T* ob = out + b * plane;
        for (i64 tr = blockIdx.y; tr < tiles_r; tr += gridDim.y) {
            for (i64 tc = blockIdx.x; tc < tiles_c; tc += gridDim.x) {
                const i64 r0 = tr * TILE, c0 = tc * TILE;
                for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
                    const i64 r = r0 + k, c = c0 + threadIdx.x;
                    if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
                }
                __syncthreads();
                for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
                    const i64 c = c0 + k, r = r0 + threadIdx.x;
                    if (r < rows && c < cols) ob[c * rows + r] = tile[threadIdx.x][k];
                }
                __syncthreads();
            }
        }
    }
}

// out[r] = x[r, idx[r]] for x [rows, cols]. An index outside [0, cols) is reported through err (when not
// null) and leaves out[r] = 0.
template <typename T>
__device__ void gather_rows_forward(T* out, const T* x, const int* idx, i64 rows, i64 cols, u64* err) {
    for (u64 r = global_thread(); r < (u64)rows; r += global_stride()) {
        const int j = idx[r];
        if (j < 0 || j >= cols) {
            report_bad_index(err, (i64)r, j, cols);
            out[r] = (T)0;
        } else {
            out[r] = x[r * cols + j];
        }
    }
}

// dx[r, idx[r]] += dy[r] (the scatter-add backward of gather_rows); dx is not cleared first. An index outside
// [0, cols) is reported through err (when not null) and skipped.
template <typename T>
__device__ void gather_rows_backward(T* dx, const T* dy, const int* idx, i64 rows, i64 cols, u64* err) {
    for (u64 r = global_thread(); r < (u64)rows; r += global_stride()) {
        const int j = idx[r];
        if (j < 0 || j >= cols) {
            report_bad_index(err, (i64)r, j, cols);
        } else {
            atomicAdd(dx + r * cols + j, dy[r]);  // rows are distinct, so this never contends
        }
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

#define MOVE_ENTRIES(T, S)                                                                                             \
    KERNEL __launch_bounds__(256) fill_##S(T* out, i64 n, double value) { fill<T>(out, n, value); }                    \
    KERNEL __launch_bounds__(256) narrow_##S(T* dst, const T* src, i64 outer, i64 src_dim, i64 inner,                  \
                                             i64 src_start, i64 dst_dim, i64 dst_start, i64 len) {                     \
        narrow<T>(dst, src, outer, src_dim, inner, src_start, dst_dim, dst_start, len);                                \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) broadcast_##S(T* out, const T* x, i64 n, BroadcastArgs args) {                       \
        broadcast<T>(out, x, n, args);                                                                                 \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) transpose_##S(T* out, const T* x, i64 batch, i64 rows, i64 cols) {                   \
        transpose<T>(out, x, batch, rows, cols);                                                                       \
    }

#define GATHER_ENTRIES(T, S)                                                                                           \
    KERNEL __launch_bounds__(256) gather_rows_forward_##S(T* out, const T* x, const int* idx, i64 rows,                \
                                                          i64 cols, u64* err) {                                        \
        gather_rows_forward<T>(out, x, idx, rows, cols, err);                                                          \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) gather_rows_backward_##S(T* dx, const T* dy, const int* idx, i64 rows,               \
                                                           i64 cols, u64* err) {                                       \
        gather_rows_backward<T>(dx, dy, idx, rows, cols, err);                                                         \
    }

#define CAST_ENTRY(S, SS, D, DS)                                                                                       \
    KERNEL __launch_bounds__(256) cast_##SS##_##DS(D* dst, const S* src, i64 n) { cast<S, D>(dst, src, n); }

MOVE_ENTRIES(float, f32)
MOVE_ENTRIES(double, f64)
MOVE_ENTRIES(int, i32)
MOVE_ENTRIES(bf16, bf16)
GATHER_ENTRIES(float, f32)
GATHER_ENTRIES(double, f64)

CAST_ENTRY(float, f32, float, f32)
CAST_ENTRY(float, f32, double, f64)
CAST_ENTRY(float, f32, int, i32)
CAST_ENTRY(double, f64, float, f32)
CAST_ENTRY(double, f64, double, f64)
CAST_ENTRY(double, f64, int, i32)
CAST_ENTRY(int, i32, float, f32)
CAST_ENTRY(int, i32, double, f64)
CAST_ENTRY(int, i32, int, i32)
CAST_ENTRY(bf16, bf16, float, f32)
CAST_ENTRY(bf16, bf16, double, f64)
CAST_ENTRY(bf16, bf16, int, i32)
CAST_ENTRY(bf16, bf16, bf16, bf16)
CAST_ENTRY(float, f32, bf16, bf16)
CAST_ENTRY(double, f64, bf16, bf16)
CAST_ENTRY(int, i32, bf16, bf16)
