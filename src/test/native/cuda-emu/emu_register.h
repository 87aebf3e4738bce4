// Registration of the kernels of one kernels/*.cu file: build.sh generates, for each module, a file that includes
// the .cu inside a namespace of its own and then lists every .entry of the module's PTX with EMU_KERNEL. The
// parameter types come from the C++ signature itself, so the call is exact; their sizes are checked against the
// PTX .param list when the driver looks a kernel up.
#pragma once

#include <type_traits>
#include <utility>

#include "emu_runtime.h"

namespace emu {

template <typename... A, size_t... I>
inline void call_with(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}

template <typename... A>
void invoke_as(void* fn, void** args) {
    call_with(reinterpret_cast<void (*)(A...)>(fn), args, std::index_sequence_for<A...>{});
}

template <typename... A>
KernelImpl kernel_impl(const char* name, void (*f)(A...)) {
    static const size_t sizes[] = {sizeof(A)..., 0};
    return KernelImpl{name, reinterpret_cast<void*>(f), &invoke_as<A...>, static_cast<int>(sizeof...(A)), sizes};
}

struct Registrar {
    Registrar(const char* module, const KernelImpl* kernels, size_t count) {
        register_kernels(module, kernels, count);
    }
};

}  // namespace emu

#define EMU_KERNEL(name) emu::kernel_impl(#name, &name),
#define EMU_MODULE(module, ...)                                                          \
    static const emu::KernelImpl emu_kernels[] = {__VA_ARGS__};                          \
    static emu::Registrar emu_registrar(#module, emu_kernels, sizeof emu_kernels / sizeof emu_kernels[0]);
