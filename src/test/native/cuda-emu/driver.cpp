// libcuda.so.1 of the CUDA emulator: the driver API functions backprop4j calls (through JCuda), on the CPU.
//
// Device memory is host memory. Each allocation ends at a PROT_NONE guard page, so a kernel that runs past the end
// of an allocation faults, and the fault handler names the kernel, block, thread and allocation; new allocations
// are filled with 0xFF bytes (NaN as float and double, -1 as int), so outputs a kernel forgot to write show.
// Copies and memsets are checked against the live allocations. Modules are the PTX the project ships: the driver
// reads each .entry, its .param sizes and .maxntid, checks them against the kernel compiled from kernels/*.cu and
// checks every launch against them. Work runs at once, in call order (one stream is as good as any other), except
// on a stream being captured into a graph, where it is recorded and run at each cuGraphLaunch.
//
// Settings (environment): CUDA_EMU_DEVICES (1), CUDA_EMU_NAME, CUDA_EMU_COMPUTE (9.0), CUDA_EMU_MEMORY (4G),
// CUDA_EMU_DRIVER_VERSION (13000), CUDA_EMU_INIT_RESULT (0), CUDA_EMU_THREAD_ORDER and CUDA_EMU_SEED
// (scheduler.cpp), CUDA_EMU_COUNTERS (a file the counters are mapped to, for tests), CUDA_EMU_TRACE (log calls).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emu_runtime.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
};

namespace emu {

// ---- settings, messages, counters -----------------------------------------------------------------------------

const char* setting(const char* name, const char* fallback) {
    std::string key = std::string("CUDA_EMU_") + name;
    const char* v = getenv(key.c_str());
    return v != nullptr && *v != '\0' ? v : fallback;
}

bool tracing() {
    static bool on = setting("TRACE", nullptr) != nullptr;
    return on;
}

static void trace(const char* format, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char* format, ...) {
    if (!tracing()) return;
    va_list ap;
    va_start(ap, format);
    fputs("cuda-emu: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void fail(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    fputs("cuda-emu: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

// The counters, in a file mapped shared when CUDA_EMU_COUNTERS names one (tests read it), else in memory.
// Slot 0 holds a magic number; slot c holds Counter c. 64-bit little-endian integers.
static const int64_t COUNTERS_MAGIC = 0x31756d656a347062;  // "bp4jemu1"
static int64_t* counters() {
    static int64_t* slots = [] {
        static int64_t local[COUNTER_SLOTS];
        int64_t* s = local;
        const char* path = setting("COUNTERS", nullptr);
        if (path != nullptr) {
            int fd = open(path, O_RDWR | O_CREAT, 0644);
            if (fd < 0 || ftruncate(fd, 4096) != 0) fail("cannot open the counters file %s", path);
            void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            if (m == MAP_FAILED) fail("cannot map the counters file %s", path);
            s = static_cast<int64_t*>(m);
            memset(s, 0, COUNTER_SLOTS * sizeof(int64_t));
        }
        s[0] = COUNTERS_MAGIC;
        return s;
    }();
    return slots;
}

void count(Counter c, int64_t n) {
    __atomic_add_fetch(&counters()[c], n, __ATOMIC_RELAXED);
}

static std::recursive_mutex& lock() {
    static std::recursive_mutex m;
    return m;
}

// ---- the device -----------------------------------------------------------------------------------------------

static const size_t PAGE = 4096;

static uint64_t parse_bytes(const char* text) {
    char* end;
    double v = strtod(text, &end);
    switch (*end) {
        case 'K': case 'k': v *= 1024.0; break;
        case 'M': case 'm': v *= 1024.0 * 1024; break;
        case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
        default: break;
    }
    return static_cast<uint64_t>(v);
}

struct Device {
    int count = atoi(setting("DEVICES", "1"));
    std::string name = setting("NAME", "backprop4j CUDA emulator");
    int major = 9, minor = 0;
    uint64_t memory = parse_bytes(setting("MEMORY", "4G"));
    int driver_version = atoi(setting("DRIVER_VERSION", "13000"));
    int init_result = atoi(setting("INIT_RESULT", "0"));

    Device() {
        if (sscanf(setting("COMPUTE", "9.0"), "%d.%d", &major, &minor) != 2) fail("CUDA_EMU_COMPUTE: expected 9.0");
    }
};

static Device& device() {
    static Device d;
    return d;
}

static bool initialized;

// ---- memory ---------------------------------------------------------------------------------------------------

struct Allocation {
    uint64_t start;
    uint64_t size;   // usable bytes, a multiple of 16; the guard page follows
    char* map;       // the mapping: [map, start) unused, [start, start + size) data, then the guard page
    size_t map_len;
    uint64_t asked;  // bytes asked for
};

static std::map<uint64_t, Allocation> device_memory;  // by start
static std::map<uint64_t, uint64_t> pinned_memory;    // start -> bytes
static uint64_t bytes_used;
static std::vector<Allocation> freed_recently;         // for fault messages

static const Allocation* allocation_at(uint64_t address) {
    auto it = device_memory.upper_bound(address);
    if (it == device_memory.begin()) return nullptr;
    --it;
    const Allocation& a = it->second;
    return address < a.start + a.size + PAGE ? &a : nullptr;  // the guard page counts as the allocation's
}

void check_device_range(const char* what, uint64_t address, uint64_t bytes) {
    std::lock_guard<std::recursive_mutex> g(lock());
    if (bytes == 0) return;
    const Allocation* a = allocation_at(address);
    if (a == nullptr || address < a->start) {
        fail("%s: %llu bytes at 0x%llx: not in any live device allocation", what, (unsigned long long)bytes,
             (unsigned long long)address);
    }
    if (address + bytes > a->start + a->asked) {
        fail("%s: %llu bytes at 0x%llx run %llu bytes past the end of the allocation of %llu bytes at 0x%llx", what,
             (unsigned long long)bytes, (unsigned long long)address,
             (unsigned long long)(address + bytes - a->start - a->asked), (unsigned long long)a->asked,
             (unsigned long long)a->start);
    }
}

static bool is_pinned(uint64_t address, uint64_t bytes) {
    auto it = pinned_memory.upper_bound(address);
    if (it == pinned_memory.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + it->second;
}

// ---- faults inside kernels ------------------------------------------------------------------------------------

static struct sigaction previous_segv, previous_bus;
static pthread_t kernel_thread;
static volatile sig_atomic_t in_kernel;

static std::string describe_address(uint64_t address) {
    char buf[256];
    const Allocation* a = allocation_at(address);
    if (a != nullptr && address >= a->start + a->size) {
        snprintf(buf, sizeof buf, "%llu bytes past the end of the allocation of %llu bytes at 0x%llx",
                 (unsigned long long)(address - a->start - a->asked), (unsigned long long)a->asked,
                 (unsigned long long)a->start);
        return buf;
    }
    if (in_fiber_guard(address)) return "the guard page of a CUDA thread's stack (stack overflow)";
    for (const Allocation& f : freed_recently) {
        if (address >= f.start && address < f.start + f.size + PAGE) {
            snprintf(buf, sizeof buf, "inside the freed allocation of %llu bytes at 0x%llx",
                     (unsigned long long)f.asked, (unsigned long long)f.start);
            return buf;
        }
    }
    return "not in any live device allocation";
}

static void chain(const struct sigaction& previous, int sig, siginfo_t* info, void* context) {
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else if (previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    }
}

static void on_fault(int sig, siginfo_t* info, void* context) {
    if (in_kernel && pthread_equal(pthread_self(), kernel_thread)) {
        uint64_t address = reinterpret_cast<uint64_t>(info->si_addr);
        fprintf(stderr, "cuda-emu: %s: invalid memory access at 0x%llx: %s\n", running_kernel().c_str(),
                (unsigned long long)address, describe_address(address).c_str());
        fflush(stderr);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    chain(sig == SIGSEGV ? previous_segv : previous_bus, sig, info, context);
}

// Installs the fault handler (chaining to the JVM's) and an alternate signal stack for the launching thread.
static void guard_kernel_faults() {
    static bool installed;
    if (!installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous_segv);
        sigaction(SIGBUS, &sa, &previous_bus);
        installed = true;
    }
}

struct KernelScope {
    stack_t previous;
    KernelScope() {
        static char* alt = static_cast<char*>(malloc(1 << 16));
        stack_t ss;
        ss.ss_sp = alt;
        ss.ss_size = 1 << 16;
        ss.ss_flags = 0;
        sigaltstack(&ss, &previous);
        kernel_thread = pthread_self();
        in_kernel = 1;
    }
    ~KernelScope() {
        in_kernel = 0;
        sigaltstack(&previous, nullptr);
    }
};

// ---- modules --------------------------------------------------------------------------------------------------

struct Function {
    std::string name;
    std::vector<size_t> param_sizes;
    unsigned max_threads = 1024;
    bool fibers = false;  // the body has bar or shfl instructions
    const KernelImpl* impl = nullptr;
};

struct Module {
    std::map<std::string, Function> functions;
};

static size_t param_size(const std::string& decl) {
    size_t open = decl.find('[');
    if (open != std::string::npos) return strtoul(decl.c_str() + open + 1, nullptr, 10);
    for (const char* t : {".u64", ".s64", ".b64", ".f64"}) if (decl.find(t) != std::string::npos) return 8;
    for (const char* t : {".u32", ".s32", ".b32", ".f32"}) if (decl.find(t) != std::string::npos) return 4;
    for (const char* t : {".u16", ".s16", ".b16", ".f16"}) if (decl.find(t) != std::string::npos) return 2;
    return 1;
}

// Reads .version, .target and every .entry (parameters, .maxntid, whether the body synchronises threads).
static CUresult parse_ptx(const char* text, Module& m, std::string& error) {
    int version_major = 0, version_minor = 0, target = 0;
    std::vector<std::string> lines;
    for (const char* p = text; *p;) {
        const char* e = strchr(p, '\n');
        lines.emplace_back(p, e ? e - p : strlen(p));
        if (!e) break;
        p = e + 1;
    }
    Function* current = nullptr;
    bool in_params = false, in_body = false;
    int depth = 0;
    for (const std::string& raw : lines) {
        std::string line = raw;
        size_t s = line.find_first_not_of(" \t");
        line = s == std::string::npos ? "" : line.substr(s);
        if (line.rfind(".version ", 0) == 0) sscanf(line.c_str(), ".version %d.%d", &version_major, &version_minor);
        if (line.rfind(".target sm_", 0) == 0) target = atoi(line.c_str() + 11);
        if (line.rfind(".visible .entry ", 0) == 0 || line.rfind(".entry ", 0) == 0) {
            size_t start = line.find(".entry ") + 7;
            std::string name = line.substr(start, line.find('(') - start);
            current = &m.functions[name];
            current->name = name;
            in_params = true;
            continue;
        }
        if (current != nullptr && in_params) {
            if (line.rfind(".param", 0) == 0) current->param_sizes.push_back(param_size(line));
            if (line.find(')') != std::string::npos) in_params = false;
            continue;
        }
        if (current != nullptr && !in_body && line.rfind(".maxntid", 0) == 0) {
            unsigned x = 1, y = 1, z = 1;
            sscanf(line.c_str(), ".maxntid %u, %u, %u", &x, &y, &z);
            current->max_threads = x * y * z;
        }
        if (current != nullptr && line == "{" && !in_body) {
            in_body = true;
            depth = 0;
        }
        if (current != nullptr && in_body) {
            if (line.find("bar.sync") != std::string::npos || line.find("barrier") != std::string::npos ||
                line.find("shfl.") != std::string::npos || line.find("vote.") != std::string::npos) {
                current->fibers = true;
            }
            for (char ch : line) depth += ch == '{' ? 1 : ch == '}' ? -1 : 0;
            if (depth == 0) {
                in_body = false;
                current = nullptr;
            }
        }
    }
    if (version_major == 0 || target == 0) {
        error = "not PTX text (no .version or .target)";
        return CUDA_ERROR_INVALID_IMAGE;
    }
    int needed = version_major >= 9 ? 13000 + 10 * version_minor : 12000 + 10 * version_minor;
    if (device().driver_version < needed) {
        error = "PTX ISA " + std::to_string(version_major) + "." + std::to_string(version_minor) +
                " needs a driver for CUDA " + std::to_string(needed / 1000) + "." + std::to_string(needed % 1000 / 10);
        return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
    }
    if (device().major * 10 + device().minor < target) {
        error = "PTX for sm_" + std::to_string(target) + " cannot run on compute capability " +
                std::to_string(device().major) + "." + std::to_string(device().minor);
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    return CUDA_SUCCESS;
}

// ---- streams and graphs ---------------------------------------------------------------------------------------

struct Graph {
    struct Node {
        std::string what;
        std::function<void()> work;
    };
    std::vector<Node> nodes;
    bool invalidated = false;
};

struct Stream {
    Graph* capture = nullptr;
};

static int captures_active;

int stream_submit(void* handle, const char* what, std::function<void()> work) {
    std::lock_guard<std::recursive_mutex> g(lock());
    Stream* s = static_cast<Stream*>(handle);
    if (s != nullptr && s->capture != nullptr) {
        s->capture->nodes.push_back({what, std::move(work)});
        return CUDA_SUCCESS;
    }
    if (s == nullptr && captures_active > 0) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    work();
    return CUDA_SUCCESS;
}

// A call that makes the host wait for the device: counted, and refused while a stream is being captured.
static CUresult host_wait(const char* what) {
    if (captures_active > 0) {
        trace("%s during stream capture: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", what);
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    count(HOST_WAITS);
    return CUDA_SUCCESS;
}

}  // namespace emu

using namespace emu;

#define API extern "C" EMU_API
#define LOCKED std::lock_guard<std::recursive_mutex> locked(lock())
#define NEED_INIT \
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED

struct Context {
    int device;
};
static Context contexts[16];
static thread_local Context* current_context;

// ---- initialisation and devices -------------------------------------------------------------------------------

API CUresult cuInit(unsigned flags) {
    LOCKED;
    trace("cuInit(%u)", flags);
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (device().init_result != CUDA_SUCCESS) return device().init_result;
    counters();
    initialized = true;
    return CUDA_SUCCESS;
}

API CUresult cuDriverGetVersion(int* version) {
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *version = device().driver_version;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetCount(int* n) {
    NEED_INIT;
    *n = device().count;
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    NEED_INIT;
    if (ordinal < 0 || ordinal >= device().count || ordinal >= 16) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}

static bool valid_device(CUdevice d) {
    return d >= 0 && d < device().count && d < 16;
}

API CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
    NEED_INIT;
    if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, len, "%s", device().name.c_str());
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetUuid(unsigned char* uuid, CUdevice d) {
    NEED_INIT;
    if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
    memset(uuid, 0, 16);
    memcpy(uuid, "bp4j-cuda-emu", 13);  // CudaProbe recognises the emulator by this
    uuid[15] = static_cast<unsigned char>(d);
    return CUDA_SUCCESS;
}

API CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice d) {
    NEED_INIT;
    if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
    switch (attribute) {
        case 1: *value = 1024; break;                            // max threads per block
        case 2: case 3: *value = 1024; break;                    // max block x, y
        case 4: *value = 64; break;                              // max block z
        case 5: *value = 2147483647; break;                      // max grid x
        case 6: case 7: *value = 65535; break;                   // max grid y, z
        case 8: *value = 49152; break;                           // shared memory per block
        case 10: *value = 32; break;                             // warp size
        case 16: *value = 132; break;                            // multiprocessors
        case 75: *value = device().major; break;                 // compute capability
        case 76: *value = device().minor; break;
        default: *value = 0; break;
    }
    return CUDA_SUCCESS;
}

API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
    NEED_INIT;
    if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = device().memory;
    return CUDA_SUCCESS;
}

// ---- contexts -------------------------------------------------------------------------------------------------

API CUresult cuDevicePrimaryCtxRetain(Context** ctx, CUdevice d) {
    NEED_INIT;
    if (!valid_device(d)) return CUDA_ERROR_INVALID_DEVICE;
    contexts[d].device = d;
    *ctx = &contexts[d];
    return CUDA_SUCCESS;
}

API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    NEED_INIT;
    return valid_device(d) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

API CUresult cuCtxSetCurrent(Context* ctx) {
    NEED_INIT;
    if (ctx != nullptr && (ctx < contexts || ctx >= contexts + 16)) return CUDA_ERROR_INVALID_CONTEXT;
    current_context = ctx;
    return CUDA_SUCCESS;
}

API CUresult cuCtxGetCurrent(Context** ctx) {
    NEED_INIT;
    *ctx = current_context;
    return CUDA_SUCCESS;
}

API CUresult cuCtxSynchronize() {
    NEED_INIT;
    LOCKED;
    return host_wait("cuCtxSynchronize");
}

#define NEED_CONTEXT                                      \
    NEED_INIT;                                            \
    if (current_context == nullptr) return CUDA_ERROR_INVALID_CONTEXT

// ---- memory ---------------------------------------------------------------------------------------------------

API CUresult cuMemAlloc_v2(CUdeviceptr* ptr, size_t bytes) {
    NEED_CONTEXT;
    LOCKED;
    if (ptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    // 16-byte aligned (a GPU gives 256), so that the end of what was asked for meets the guard page
    uint64_t size = (bytes + 15) / 16 * 16;
    if (bytes_used + size > device().memory) {
        trace("cuMemAlloc(%zu): out of memory (%llu of %llu bytes in use)", bytes, (unsigned long long)bytes_used,
              (unsigned long long)device().memory);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t map_len = (size + PAGE - 1) / PAGE * PAGE + PAGE;
    char* map = static_cast<char*>(mmap(nullptr, map_len, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    if (map == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    char* guard = map + map_len - PAGE;
    mprotect(guard, PAGE, PROT_NONE);
    Allocation a{reinterpret_cast<uint64_t>(guard) - size, size, map, map_len, bytes};
    memset(reinterpret_cast<void*>(a.start), 0xFF, size);
    device_memory[a.start] = a;
    bytes_used += size;
    count(DEVICE_ALLOCATIONS);
    *ptr = a.start;
    trace("cuMemAlloc(%zu) = 0x%llx", bytes, (unsigned long long)a.start);
    return CUDA_SUCCESS;
}

API CUresult cuMemFree_v2(CUdeviceptr ptr) {
    NEED_CONTEXT;
    LOCKED;
    if (captures_active > 0) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    auto it = device_memory.find(ptr);
    if (it == device_memory.end()) {
        fail("cuMemFree(0x%llx): not the start of a live device allocation", (unsigned long long)ptr);
    }
    Allocation a = it->second;
    device_memory.erase(it);
    bytes_used -= a.size;
    munmap(a.map, a.map_len);
    freed_recently.push_back(a);
    if (freed_recently.size() > 64) freed_recently.erase(freed_recently.begin());
    count(DEVICE_FREES);
    trace("cuMemFree(0x%llx)", (unsigned long long)ptr);
    return CUDA_SUCCESS;
}

API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    NEED_CONTEXT;
    LOCKED;
    *free_bytes = device().memory - bytes_used;
    *total = device().memory;
    return CUDA_SUCCESS;
}

API CUresult cuMemAllocHost_v2(void** p, size_t bytes) {
    NEED_CONTEXT;
    LOCKED;
    *p = malloc(bytes == 0 ? 1 : bytes);
    if (*p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    pinned_memory[reinterpret_cast<uint64_t>(*p)] = bytes;
    return CUDA_SUCCESS;
}

API CUresult cuMemFreeHost(void* p) {
    NEED_CONTEXT;
    LOCKED;
    if (pinned_memory.erase(reinterpret_cast<uint64_t>(p)) == 0) {
        fail("cuMemFreeHost(%p): not pinned memory from cuMemAllocHost", p);
    }
    free(p);
    return CUDA_SUCCESS;
}

static Stream* stream_of(void* s) {
    return static_cast<Stream*>(s);
}

API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void* stream) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemcpyHtoDAsync", dst, bytes);
    bool capturing = stream_of(stream) != nullptr && stream_of(stream)->capture != nullptr;
    if (capturing && !is_pinned(reinterpret_cast<uint64_t>(src), bytes)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    count(COPIES_HOST_TO_DEVICE);
    return stream_submit(stream, "cuMemcpyHtoDAsync", [=] { memcpy(reinterpret_cast<void*>(dst), src, bytes); });
}

API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemcpyHtoD", dst, bytes);
    CUresult r = host_wait("cuMemcpyHtoD");
    if (r != CUDA_SUCCESS) return r;
    count(COPIES_HOST_TO_DEVICE);
    memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemcpyDtoH", src, bytes);
    CUresult r = host_wait("cuMemcpyDtoH");
    if (r != CUDA_SUCCESS) return r;
    count(COPIES_DEVICE_TO_HOST);
    memcpy(dst, reinterpret_cast<void*>(src), bytes);
    return CUDA_SUCCESS;
}

API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void* stream) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemcpyDtoHAsync", src, bytes);
    if (!is_pinned(reinterpret_cast<uint64_t>(dst), bytes)) {
        // pageable memory: the real driver copies synchronously
        CUresult r = host_wait("cuMemcpyDtoHAsync to pageable memory");
        if (r != CUDA_SUCCESS) return r;
    }
    count(COPIES_DEVICE_TO_HOST);
    return stream_submit(stream, "cuMemcpyDtoHAsync", [=] { memcpy(dst, reinterpret_cast<void*>(src), bytes); });
}

API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemcpyDtoDAsync (source)", src, bytes);
    check_device_range("cuMemcpyDtoDAsync (destination)", dst, bytes);
    count(COPIES_DEVICE_TO_DEVICE);
    return stream_submit(stream, "cuMemcpyDtoDAsync",
                         [=] { memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes); });
}

API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t n, void* stream) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemsetD32Async", dst, 4 * (uint64_t)n);
    count(MEMSETS);
    return stream_submit(stream, "cuMemsetD32Async", [=] {
        unsigned* p = reinterpret_cast<unsigned*>(dst);
        for (size_t i = 0; i < n; i++) p[i] = value;
    });
}

API CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t n) {
    NEED_CONTEXT;
    LOCKED;
    check_device_range("cuMemsetD32", dst, 4 * (uint64_t)n);
    count(MEMSETS);
    unsigned* p = reinterpret_cast<unsigned*>(dst);
    for (size_t i = 0; i < n; i++) p[i] = value;
    return CUDA_SUCCESS;
}

// ---- streams and events ---------------------------------------------------------------------------------------

API CUresult cuStreamCreate(Stream** s, unsigned flags) {
    NEED_CONTEXT;
    trace("cuStreamCreate(flags %u)", flags);
    *s = new Stream();
    return CUDA_SUCCESS;
}

API CUresult cuStreamDestroy_v2(Stream* s) {
    NEED_CONTEXT;
    delete s;
    return CUDA_SUCCESS;
}

API CUresult cuStreamSynchronize(Stream* s) {
    NEED_CONTEXT;
    LOCKED;
    return host_wait("cuStreamSynchronize");
}

API CUresult cuStreamQuery(Stream* s) {
    NEED_CONTEXT;
    return CUDA_SUCCESS;  // work is done when its call returns
}

struct Event {
    int unused;
};

API CUresult cuEventCreate(Event** e, unsigned flags) {
    NEED_CONTEXT;
    *e = new Event();
    return CUDA_SUCCESS;
}

API CUresult cuEventDestroy_v2(Event* e) {
    NEED_CONTEXT;
    delete e;
    return CUDA_SUCCESS;
}

API CUresult cuEventRecord(Event* e, void* stream) {
    NEED_CONTEXT;
    return e == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
}

API CUresult cuEventQuery(Event* e) {
    NEED_CONTEXT;
    return CUDA_SUCCESS;
}

API CUresult cuEventSynchronize(Event* e) {
    NEED_CONTEXT;
    LOCKED;
    return host_wait("cuEventSynchronize");
}

API CUresult cuStreamWaitEvent(void* stream, Event* e, unsigned flags) {
    NEED_CONTEXT;
    return CUDA_SUCCESS;
}

// ---- graphs ---------------------------------------------------------------------------------------------------

API CUresult cuStreamBeginCapture_v2(Stream* s, int mode) {
    NEED_CONTEXT;
    LOCKED;
    if (s == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;  // the legacy stream cannot be captured
    if (s->capture != nullptr) return CUDA_ERROR_INVALID_VALUE;
    s->capture = new Graph();
    captures_active++;
    trace("cuStreamBeginCapture");
    return CUDA_SUCCESS;
}

API CUresult cuStreamEndCapture(Stream* s, Graph** graph) {
    NEED_CONTEXT;
    LOCKED;
    if (s == nullptr || s->capture == nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    Graph* g = s->capture;
    s->capture = nullptr;
    captures_active--;
    trace("cuStreamEndCapture: %zu nodes", g->nodes.size());
    if (g->invalidated) {
        delete g;
        *graph = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    *graph = g;
    return CUDA_SUCCESS;
}

API CUresult cuStreamIsCapturing(Stream* s, int* status) {
    NEED_CONTEXT;
    *status = s != nullptr && s->capture != nullptr ? 1 : 0;
    return CUDA_SUCCESS;
}

API CUresult cuGraphInstantiateWithFlags(Graph** exec, Graph* graph, unsigned long long flags) {
    NEED_CONTEXT;
    if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *exec = new Graph(*graph);
    return CUDA_SUCCESS;
}

API CUresult cuGraphLaunch(Graph* exec, void* stream) {
    NEED_CONTEXT;
    LOCKED;
    if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
    count(GRAPH_LAUNCHES);
    int64_t kernels = 0;
    for (const Graph::Node& n : exec->nodes) kernels += n.what == std::string("kernel") ? 1 : 0;
    count(GRAPH_KERNELS, kernels);
    return stream_submit(stream, "graph", [exec] {
        for (const Graph::Node& n : exec->nodes) n.work();
    });
}

API CUresult cuGraphExecDestroy(Graph* exec) {
    NEED_CONTEXT;
    delete exec;
    return CUDA_SUCCESS;
}

API CUresult cuGraphDestroy(Graph* graph) {
    NEED_CONTEXT;
    delete graph;
    return CUDA_SUCCESS;
}

// ---- modules and launches -------------------------------------------------------------------------------------

static CUresult load_module(Module** out, const void* image) {
    NEED_CONTEXT;
    LOCKED;
    if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::unique_ptr<Module> m(new Module());
    std::string error;
    CUresult r = parse_ptx(static_cast<const char*>(image), *m, error);
    if (r != CUDA_SUCCESS) {
        trace("cuModuleLoadData: %s", error.c_str());
        return r;
    }
    *out = m.release();
    return CUDA_SUCCESS;
}

API CUresult cuModuleLoadDataEx(Module** out, const void* image, unsigned n, void* options, void** values) {
    return load_module(out, image);
}

API CUresult cuModuleLoadData(Module** out, const void* image) {
    return load_module(out, image);
}

API CUresult cuModuleUnload(Module* m) {
    NEED_CONTEXT;
    delete m;
    return CUDA_SUCCESS;
}

API CUresult cuModuleGetFunction(Function** f, Module* m, const char* name) {
    NEED_CONTEXT;
    LOCKED;
    if (m == nullptr || name == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    auto it = m->functions.find(name);
    if (it == m->functions.end()) return CUDA_ERROR_NOT_FOUND;
    Function& fn = it->second;
    if (fn.impl == nullptr) {
        fn.impl = find_kernel(name);
        if (fn.impl == nullptr) {
            fail("cuModuleGetFunction(%s): the PTX has this entry but kernels/*.cu does not define it (stale PTX? "
                 "run kernels/build-ptx.sh)", name);
        }
        bool same = fn.impl->arity == static_cast<int>(fn.param_sizes.size());
        for (int i = 0; same && i < fn.impl->arity; i++) same = fn.impl->sizes[i] == fn.param_sizes[i];
        if (!same) {
            std::string c, p;
            for (int i = 0; i < fn.impl->arity; i++) c += (i ? ", " : "") + std::to_string(fn.impl->sizes[i]);
            for (size_t i = 0; i < fn.param_sizes.size(); i++) p += (i ? ", " : "") + std::to_string(fn.param_sizes[i]);
            fail("kernel %s: its PTX takes parameters of %s bytes, its C++ signature %s bytes (stale PTX? run "
                 "kernels/build-ptx.sh)", name, p.c_str(), c.c_str());
        }
    }
    *f = &fn;
    return CUDA_SUCCESS;
}

static CUresult refuse(const Function& f, const char* why, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz) {
    fprintf(stderr, "cuda-emu: cuLaunchKernel %s with grid (%u, %u, %u), block (%u, %u, %u): %s\n", f.name.c_str(),
            gx, gy, gz, bx, by, bz, why);
    return CUDA_ERROR_INVALID_VALUE;
}

API CUresult cuLaunchKernel(Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared_bytes, void* stream, void** params, void** extra) {
    NEED_CONTEXT;
    LOCKED;
    if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    uint64_t threads = (uint64_t)bx * by * bz;
    if (bx == 0 || by == 0 || bz == 0 || gx == 0 || gy == 0 || gz == 0) {
        return refuse(*f, "a dimension is 0", gx, gy, gz, bx, by, bz);
    }
    if (bx > 1024 || by > 1024 || bz > 64 || threads > 1024) {
        return refuse(*f, "the block exceeds the device's limits (1024, 1024, 64; 1024 threads)", gx, gy, gz, bx, by,
                      bz);
    }
    if (threads > f->max_threads) {
        return refuse(*f, ("the block has more threads than the kernel's .maxntid " +
                           std::to_string(f->max_threads)).c_str(), gx, gy, gz, bx, by, bz);
    }
    if (gx > 2147483647u || gy > 65535 || gz > 65535) {
        return refuse(*f, "the grid exceeds the device's limits (2^31 - 1, 65535, 65535)", gx, gy, gz, bx, by, bz);
    }
    if (shared_bytes > 49152) return refuse(*f, "more than 48 KiB of dynamic shared memory", gx, gy, gz, bx, by, bz);
    if (extra != nullptr) return refuse(*f, "the extra parameter form is not emulated", gx, gy, gz, bx, by, bz);
    if (params == nullptr && !f->param_sizes.empty()) return refuse(*f, "no parameters given", gx, gy, gz, bx, by, bz);
    // The parameters are copied now, as the driver does, so the caller's memory can go.
    std::vector<size_t> offsets;
    size_t total = 0;
    for (size_t s : f->param_sizes) {
        total = (total + 7) / 8 * 8;
        offsets.push_back(total);
        total += s;
    }
    std::shared_ptr<std::vector<char>> copy = std::make_shared<std::vector<char>>(total + 8);
    for (size_t i = 0; i < f->param_sizes.size(); i++) memcpy(copy->data() + offsets[i], params[i], f->param_sizes[i]);
    count(KERNEL_LAUNCHES);
    trace("launch %s grid (%u, %u, %u) block (%u, %u, %u)", f->name.c_str(), gx, gy, gz, bx, by, bz);
    Dim grid{gx, gy, gz}, block{bx, by, bz};
    return stream_submit(stream, "kernel", [f, copy, offsets, grid, block] {
        std::vector<void*> args;
        for (size_t o : offsets) args.push_back(copy->data() + o);
        guard_kernel_faults();
        KernelScope scope;
        run_grid(f->name.c_str(), *f->impl, args.data(), grid, block, f->fibers);
    });
}
