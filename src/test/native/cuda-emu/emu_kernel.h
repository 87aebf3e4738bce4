// The CUDA C++ that kernels/*.cu use, for g++ on the CPU: build.sh force-includes this header (-include) before
// each kernel file, which then compiles unchanged. Execution model (scheduler.cpp): the blocks of a launch run one
// after another; inside a block every CUDA thread is a fiber that runs until it reaches a barrier, a warp shuffle
// or its end, so shared memory, __syncthreads and the shuffles behave as on a GPU, and a missing barrier shows as
// a wrong result (run with CUDA_EMU_THREAD_ORDER=reverse or shuffle to see it from the other side).
//
// What this cannot reproduce: the PTX the driver JIT-compiles, real warp concurrency (threads of a warp run one at
// a time between synchronisation points), device libm (expf, tanhf... here are glibc's), memory consistency
// between blocks (blocks never overlap here).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "emu_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Static storage shared by all fibers of the block (blocks of a launch never run at the same time).
#define __shared__ static

#define threadIdx (emu::current_thread->idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define warpSize 32

#define __syncthreads() emu::syncthreads(__FILE__, __LINE__)
// Blocks run one after another, so every write of a finished block is visible to the next.
#define __threadfence() ((void)0)
#define __shfl_xor_sync(mask, value, lane_mask) emu::shfl_xor((mask), (value), (lane_mask), __FILE__, __LINE__)

namespace emu {

// Warp shuffle (butterfly): every lane in mask passes value and gets the value of lane ^ lane_mask.
template <typename T>
inline T shfl_xor(unsigned mask, T value, int lane_mask, const char* file, int line) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    T out;
    shuffle(mask, &value, &out, sizeof(T), lane_mask, file, line);
    return out;
}

}  // namespace emu

// Atomics: only one CUDA thread runs at a time, so a plain read-modify-write is atomic here.
template <typename T>
inline T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}

template <typename T>
inline T atomicMin(T* address, T value) {
    T old = *address;
    if (value < old) *address = value;
    return old;
}

template <typename T>
inline T atomicMax(T* address, T value) {
    T old = *address;
    if (value > old) *address = value;
    return old;
}
