// The emulator's self-test: runs one planted kernel (planted.cu) through the stand-in driver's real API (module
// from a PTX text, cuMemAlloc, cuLaunchKernel, cuMemcpy) and prints its result; a planted fault the emulator
// catches ends the process with the emulator's message instead. CudaEmulatorTest runs it.
//     emu-selftest <kernel> <plant 0|1>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "emu_kernel.h"

namespace planted {
#include "planted.cu"
}
#include "emu_register.h"
namespace planted {
EMU_MODULE(planted, EMU_KERNEL(block_sum) EMU_KERNEL(pair_sum) EMU_KERNEL(iota) EMU_KERNEL(publish))
}

typedef unsigned long long CUdeviceptr;
extern "C" {
int cuInit(unsigned);
int cuDevicePrimaryCtxRetain(void**, int);
int cuCtxSetCurrent(void*);
int cuModuleLoadData(void**, const void*);
int cuModuleGetFunction(void**, void*, const char*);
int cuMemAlloc_v2(CUdeviceptr*, size_t);
int cuMemcpyHtoD_v2(CUdeviceptr, const void*, size_t);
int cuMemcpyDtoH_v2(void*, CUdeviceptr, size_t);
int cuLaunchKernel(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**);
}

#define CHECK(call)                                                               \
    do {                                                                          \
        int r_ = (call);                                                          \
        if (r_ != 0) {                                                            \
            fprintf(stderr, "selftest: %s failed with %d\n", #call, r_);          \
            return 2;                                                             \
        }                                                                         \
    } while (0)

// A PTX text declaring the planted kernels as nvcc would: parameter sizes from the C++ signatures, and bar.sync in
// the bodies of those that synchronise (all but iota).
static std::string ptx() {
    std::string s = ".version 9.0\n.target sm_80\n.address_size 64\n";
    for (const emu::KernelImpl& k : planted::emu_kernels) {
        s += std::string(".visible .entry ") + k.name + "(\n";
        for (int i = 0; i < k.arity; i++) {
            s += std::string("\t.param ") + (k.sizes[i] == 8 ? ".u64 " : ".u32 ") + k.name + "_param_" +
                 std::to_string(i) + (i + 1 < k.arity ? ",\n" : "\n");
        }
        s += ")\n.maxntid 1024, 1, 1\n{\n";
        if (strcmp(k.name, "iota") != 0) s += "\tbar.sync \t0;\n";
        s += "\tret;\n}\n";
    }
    return s;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: emu-selftest block_sum|pair_sum|iota|publish 0|1\n");
        return 2;
    }
    std::string name = argv[1];
    int plant = atoi(argv[2]);
    void *ctx, *module, *fn;
    CHECK(cuInit(0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK(cuCtxSetCurrent(ctx));
    std::string text = ptx();
    CHECK(cuModuleLoadData(&module, text.c_str()));
    CHECK(cuModuleGetFunction(&fn, module, name.c_str()));
    if (name == "block_sum") {
        std::vector<double> x(256);
        for (int i = 0; i < 256; i++) x[i] = i + 1;
        CUdeviceptr dx, dout;
        CHECK(cuMemAlloc_v2(&dx, 256 * 8));
        CHECK(cuMemAlloc_v2(&dout, 8));
        CHECK(cuMemcpyHtoD_v2(dx, x.data(), 256 * 8));
        void* args[] = {&dout, &dx, &plant};
        CHECK(cuLaunchKernel(fn, 1, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
        double out;
        CHECK(cuMemcpyDtoH_v2(&out, dout, 8));
        printf("block_sum %.0f\n", out);  // 32896 when right
    } else if (name == "pair_sum") {
        std::vector<float> x(64), out(64);
        for (int i = 0; i < 64; i++) x[i] = (float)i;
        CUdeviceptr dx, dout;
        CHECK(cuMemAlloc_v2(&dx, 64 * 4));
        CHECK(cuMemAlloc_v2(&dout, 64 * 4));
        CHECK(cuMemcpyHtoD_v2(dx, x.data(), 64 * 4));
        void* args[] = {&dout, &dx, &plant};
        CHECK(cuLaunchKernel(fn, 1, 1, 1, 64, 1, 1, 0, nullptr, args, nullptr));
        CHECK(cuMemcpyDtoH_v2(out.data(), dout, 64 * 4));
        printf("pair_sum %.0f %.0f\n", out[0], out[63]);  // 1 125
    } else if (name == "iota") {
        long long n = 1000;
        CUdeviceptr dout;
        CHECK(cuMemAlloc_v2(&dout, n * 4));
        void* args[] = {&dout, &n, &plant};
        CHECK(cuLaunchKernel(fn, 4, 1, 1, 128, 1, 1, 0, nullptr, args, nullptr));
        std::vector<int> out(n);
        CHECK(cuMemcpyDtoH_v2(out.data(), dout, n * 4));
        printf("iota %d\n", out[n - 1]);  // 999
    } else if (name == "publish") {
        CUdeviceptr dout;
        CHECK(cuMemAlloc_v2(&dout, 64 * 4));
        void* args[] = {&dout, &plant};
        CHECK(cuLaunchKernel(fn, 1, 1, 1, 64, 1, 1, 0, nullptr, args, nullptr));
        int out[64];
        CHECK(cuMemcpyDtoH_v2(out, dout, 64 * 4));
        printf("publish %d\n", out[63]);  // 7
    } else {
        fprintf(stderr, "selftest: unknown kernel %s\n", name.c_str());
        return 2;
    }
    return 0;
}
