// Internal interface of the CUDA emulator: between the emulated kernels (emu_kernel.h), the block scheduler
// (scheduler.cpp), the stand-in driver (driver.cpp, libcuda.so.1) and the stand-in cuBLAS (cublas.cpp,
// libcublas.so.13, which links against libcuda.so.1 for these services).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#define EMU_API __attribute__((visibility("default")))

namespace emu {

struct Dim {
    unsigned x, y, z;
};

// One CUDA thread as kernel code sees it.
struct ThreadContext {
    Dim idx;
};

// Set by the scheduler for the code that runs now (one CUDA thread at a time in the whole process).
EMU_API extern ThreadContext* current_thread;
EMU_API extern Dim block_idx, block_dim, grid_dim;

// Barriers and shuffles: called from kernel code (see emu_kernel.h).
EMU_API void syncthreads(const char* file, int line);
EMU_API void shuffle(unsigned mask, const void* in, void* out, size_t size, int lane_mask, const char* file, int line);

// ---- kernels ----------------------------------------------------------------------------------------------

// Calls a kernel with its parameters taken from a cuLaunchKernel-style array of pointers.
using Invoker = void (*)(void* fn, void** args);

// One compiled kernel: its C parameter sizes let the driver check them against the PTX .param list.
struct KernelImpl {
    const char* name;
    void* fn;
    Invoker invoke;
    int arity;
    const size_t* sizes;
};

EMU_API void register_kernels(const char* module, const KernelImpl* kernels, size_t count);
EMU_API const KernelImpl* find_kernel(const char* name);

// Runs every block of a launch. fibers: whether threads may meet at barriers or shuffles (the PTX has bar/shfl);
// without, each thread runs start to end as a plain call.
void run_grid(const char* name, const KernelImpl& kernel, void** args, Dim grid, Dim block, bool fibers);

// For the fault handler: whether an address is in the guard page of a fiber stack, and which kernel, block and
// thread run now ("" when none).
bool in_fiber_guard(uintptr_t address);
std::string running_kernel();

// ---- services of the stand-in driver ------------------------------------------------------------------------

// Prints "cuda-emu: <message>" on standard error and aborts the process.
[[noreturn]] EMU_API void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Fails unless [address, address + bytes) lies inside one live device allocation; what names the call.
EMU_API void check_device_range(const char* what, uint64_t address, uint64_t bytes);

// Runs work on a stream: now, or, while the stream is being captured into a graph, at each replay.
EMU_API int stream_submit(void* stream, const char* what, std::function<void()> work);

enum Counter {
    KERNEL_LAUNCHES = 1,
    CUBLAS_CALLS,
    COPIES_HOST_TO_DEVICE,
    COPIES_DEVICE_TO_HOST,
    COPIES_DEVICE_TO_DEVICE,
    MEMSETS,
    HOST_WAITS,
    DEVICE_ALLOCATIONS,
    DEVICE_FREES,
    GRAPH_LAUNCHES,
    GRAPH_KERNELS,
    COUNTER_SLOTS
};

EMU_API void count(Counter c, int64_t n = 1);

// Environment settings: CUDA_EMU_<name>, or the default.
EMU_API const char* setting(const char* name, const char* fallback);

// Whether CUDA_EMU_TRACE is set: every API call and launch is then logged on standard error.
EMU_API bool tracing();

}  // namespace emu
