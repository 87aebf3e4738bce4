// The block scheduler of the CUDA emulator: runs the blocks of a launch one after another, and inside a block one
// fiber per CUDA thread. A fiber runs until it reaches __syncthreads, a warp shuffle or the end of the kernel; when
// no fiber can run, the scheduler releases every warp whose lanes all wait at the same shuffle, else the whole
// block if every thread waits at the same barrier, else it stops the process naming what went wrong:
//   - a barrier reached by part of the block (the others have exited),
//   - threads waiting at barriers of different call sites,
//   - a shuffle whose mask names lanes that have exited, do not exist (partial warp), or wait elsewhere.
// Threads run in order of their linear index between synchronisation points; CUDA_EMU_THREAD_ORDER=reverse or
// shuffle (seeded by CUDA_EMU_SEED) changes that, so a missing barrier changes the result. Kernels whose PTX has
// neither bar nor shfl run each thread as a plain call, without fibers.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "emu_runtime.h"

namespace emu {

ThreadContext* current_thread;
Dim block_idx, block_dim, grid_dim;

// ---- registry -------------------------------------------------------------------------------------------------

static std::map<std::string, const KernelImpl*>& registry() {
    static std::map<std::string, const KernelImpl*> kernels;
    return kernels;
}

void register_kernels(const char* module, const KernelImpl* kernels, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (!registry().emplace(kernels[i].name, &kernels[i]).second) {
            fail("kernel %s of module %s is defined twice", kernels[i].name, module);
        }
    }
}

const KernelImpl* find_kernel(const char* name) {
    auto it = registry().find(name);
    return it == registry().end() ? nullptr : it->second;
}

// ---- context switch (x86-64 System V) -------------------------------------------------------------------------

// emu_switch(save, load): saves the callee-saved registers, MXCSR and the x87 control word on the current stack,
// stores the stack pointer in *save, and resumes the stack saved in load. A new fiber's stack is prepared so that
// the first switch to it "returns" into emu_fiber_entry with the fiber in r12.
extern "C" void emu_switch(void** save, void* load);
extern "C" void emu_fiber_entry();
extern "C" void emu_fiber_main(void* fiber);

asm(R"(
    .text
    .p2align 4
    .globl emu_switch
    .hidden emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch

    .p2align 4
    .globl emu_fiber_entry
    .hidden emu_fiber_entry
    .type emu_fiber_entry, @function
emu_fiber_entry:
    movq %r12, %rdi
    call emu_fiber_main
    ud2
    .size emu_fiber_entry, .-emu_fiber_entry
)");

// ---- fibers ---------------------------------------------------------------------------------------------------

enum State { RUNNABLE, AT_BARRIER, AT_SHUFFLE, EXITED };

struct Fiber {
    void* sp;
    char* stack;  // lowest usable byte, above the guard page
    ThreadContext ctx;
    int linear;
    State state;
    const char* file;
    int line;
    unsigned mask;
    int lane_mask;
    size_t size;
    unsigned char in[8], out[8];
};

static const size_t STACK_BYTES = 256 * 1024;
static const size_t PAGE = 4096;

static std::vector<Fiber> fibers;
static void* scheduler_sp;
static Fiber* running;  // the fiber running now; null outside fiber mode

// The kernel running now, for messages and for the fibers' entry.
static const char* launch_name;
static const KernelImpl* launch_kernel;
static void** launch_args;

static void ensure_fibers(size_t n) {
    while (fibers.size() < n) {
        char* base = static_cast<char*>(mmap(nullptr, STACK_BYTES + PAGE, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        if (base == MAP_FAILED) fail("cannot map a fiber stack");
        mprotect(base, PAGE, PROT_NONE);  // overflow faults instead of corrupting the next stack
        Fiber f{};
        f.stack = base + PAGE;
        fibers.push_back(f);
    }
}

// Whether address lies in the guard page of a fiber stack (a kernel overflowed its stack).
bool in_fiber_guard(uintptr_t address) {
    for (const Fiber& f : fibers) {
        uintptr_t guard = reinterpret_cast<uintptr_t>(f.stack) - PAGE;
        if (address >= guard && address < guard + PAGE) return true;
    }
    return false;
}

extern "C" void emu_fiber_main(void* p) {
    Fiber* f = static_cast<Fiber*>(p);
    launch_kernel->invoke(launch_kernel->fn, launch_args);
    f->state = EXITED;
    void* dead;
    emu_switch(&dead, scheduler_sp);
    __builtin_unreachable();
}

static void prepare(Fiber& f) {
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + STACK_BYTES - 64) & ~uintptr_t(15);
    uint64_t* frame = reinterpret_cast<uint64_t*>(top - 64);
    frame[0] = 0x1F80ull | (0x037Full << 32);  // MXCSR, x87 control word: the ABI's initial values
    frame[1] = 0;                               // r15
    frame[2] = 0;                               // r14
    frame[3] = 0;                               // r13
    frame[4] = reinterpret_cast<uint64_t>(&f);  // r12: the fiber, for emu_fiber_entry
    frame[5] = 0;                               // rbx
    frame[6] = 0;                               // rbp
    frame[7] = reinterpret_cast<uint64_t>(&emu_fiber_entry);
    f.sp = frame;
}

// ---- thread order ---------------------------------------------------------------------------------------------

enum Order { FORWARD, REVERSE, SHUFFLE };

static Order order_setting() {
    static Order order = [] {
        std::string v = setting("THREAD_ORDER", "forward");
        if (v == "forward") return FORWARD;
        if (v == "reverse") return REVERSE;
        if (v == "shuffle") return SHUFFLE;
        fail("CUDA_EMU_THREAD_ORDER=%s: expected forward, reverse or shuffle", v.c_str());
    }();
    return order;
}

static uint64_t shuffle_state;

// The order in which to visit n items (threads of a block, or blocks of a grid).
static const std::vector<int>& visiting_order(int n, std::vector<int>& out) {
    out.resize(n);
    for (int i = 0; i < n; i++) out[i] = i;
    switch (order_setting()) {
        case FORWARD: break;
        case REVERSE: std::reverse(out.begin(), out.end()); break;
        case SHUFFLE:
            if (shuffle_state == 0) shuffle_state = std::strtoull(setting("SEED", "1"), nullptr, 10) * 2 + 1;
            for (int i = n - 1; i > 0; i--) {
                shuffle_state ^= shuffle_state << 13;
                shuffle_state ^= shuffle_state >> 7;
                shuffle_state ^= shuffle_state << 17;
                std::swap(out[i], out[shuffle_state % (uint64_t)(i + 1)]);
            }
            break;
    }
    return out;
}

// ---- messages -------------------------------------------------------------------------------------------------

static std::string where() {
    char buf[256];
    snprintf(buf, sizeof buf, "kernel %s, block (%u, %u, %u) of grid (%u, %u, %u), block size (%u, %u, %u)",
             launch_name, block_idx.x, block_idx.y, block_idx.z, grid_dim.x, grid_dim.y, grid_dim.z, block_dim.x,
             block_dim.y, block_dim.z);
    return buf;
}

static std::string thread_name(const Fiber& f) {
    char buf[64];
    snprintf(buf, sizeof buf, "thread (%u, %u, %u)", f.ctx.idx.x, f.ctx.idx.y, f.ctx.idx.z);
    return buf;
}

static std::string site(const char* file, int line) {
    const char* slash = strrchr(file, '/');
    return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

static std::string describe(const Fiber& f) {
    switch (f.state) {
        case RUNNABLE: return "is runnable";
        case EXITED: return "has exited";
        case AT_BARRIER: return "waits at __syncthreads at " + site(f.file, f.line);
        case AT_SHUFFLE: {
            char mask[16];
            snprintf(mask, sizeof mask, "0x%08x", f.mask);
            return std::string("waits at a shuffle (mask ") + mask + ") at " + site(f.file, f.line);
        }
    }
    return "?";
}

// "threads 0-31 and 64-95": linear indices grouped into ranges.
static std::string ranges(const std::vector<int>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) j++;
        if (!s.empty()) s += ", ";
        s += std::to_string(ids[i]);
        if (j > i) s += "-" + std::to_string(ids[j]);
        i = j + 1;
    }
    return s;
}

// ---- synchronisation from kernel code -------------------------------------------------------------------------

static void yield(Fiber* f) {
    emu_switch(&f->sp, scheduler_sp);
}

void syncthreads(const char* file, int line) {
    if (running == nullptr) {
        fail("%s: __syncthreads at %s, but the kernel's PTX has no bar.sync, so it runs without fibers: the PTX "
             "is stale (run kernels/build-ptx.sh)", where().c_str(), site(file, line).c_str());
    }
    Fiber* f = running;
    f->state = AT_BARRIER;
    f->file = file;
    f->line = line;
    yield(f);
}

void shuffle(unsigned mask, const void* in, void* out, size_t size, int lane_mask, const char* file, int line) {
    if (running == nullptr) {
        fail("%s: warp shuffle at %s, but the kernel's PTX has no shfl, so it runs without fibers: the PTX is "
             "stale (run kernels/build-ptx.sh)", where().c_str(), site(file, line).c_str());
    }
    Fiber* f = running;
    f->state = AT_SHUFFLE;
    f->file = file;
    f->line = line;
    f->mask = mask;
    f->lane_mask = lane_mask;
    f->size = size;
    memcpy(f->in, in, size);
    yield(f);
    memcpy(out, f->out, size);
}

// ---- one block ------------------------------------------------------------------------------------------------

static bool same_site(const Fiber& a, const Fiber& b) {
    return a.line == b.line && strcmp(a.file, b.file) == 0;
}

// Releases every warp whose lanes all wait at one shuffle; fails on a shuffle that cannot complete.
static bool release_shuffles(int threads) {
    bool released = false;
    for (int w = 0; w * 32 < threads; w++) {
        int lanes = std::min(32, threads - w * 32);
        Fiber* first = nullptr;
        for (int l = 0; l < lanes && first == nullptr; l++) {
            if (fibers[w * 32 + l].state == AT_SHUFFLE) first = &fibers[w * 32 + l];
        }
        if (first == nullptr) continue;
        for (int l = 0; l < 32; l++) {
            if (!(first->mask >> l & 1)) continue;
            if (l >= lanes) {
                fail("%s: warp %d: the shuffle at %s with mask 0x%08x names lane %d, which does not exist (the "
                     "block has %d threads, so warp %d has %d lanes)", where().c_str(), w,
                     site(first->file, first->line).c_str(), first->mask, l, threads, w, lanes);
            }
            Fiber& f = fibers[w * 32 + l];
            if (f.state != AT_SHUFFLE || !same_site(f, *first) || f.mask != first->mask) {
                fail("%s: warp %d: %s waits at a shuffle at %s with mask 0x%08x, but lane %d (%s) %s: a shuffle "
                     "needs every lane of its mask at the same shuffle", where().c_str(), w,
                     thread_name(*first).c_str(), site(first->file, first->line).c_str(), first->mask, l,
                     thread_name(f).c_str(), describe(f).c_str());
            }
        }
        for (int l = 0; l < lanes; l++) {
            Fiber& f = fibers[w * 32 + l];
            if (!(first->mask >> l & 1)) continue;
            int src = l ^ f.lane_mask;
            const Fiber& from = (src < lanes && (first->mask >> src & 1)) ? fibers[w * 32 + src] : f;
            memcpy(f.out, from.in, f.size);
            f.state = RUNNABLE;
        }
        released = true;
    }
    return released;
}

// Releases the block from a barrier every live thread waits at; fails otherwise.
static void release_barrier(int threads) {
    std::vector<int> waiting, exited;
    const Fiber* first = nullptr;
    for (int t = 0; t < threads; t++) {
        Fiber& f = fibers[t];
        if (f.state == AT_BARRIER) {
            if (first == nullptr) first = &f;
            if (!same_site(f, *first)) {
                fail("%s: threads wait at different barriers: %s %s, but %s %s", where().c_str(),
                     thread_name(*first).c_str(), describe(*first).c_str(), thread_name(f).c_str(),
                     describe(f).c_str());
            }
            waiting.push_back(t);
        } else if (f.state == EXITED) {
            exited.push_back(t);
        } else {
            fail("%s: deadlock: %s %s and cannot proceed", where().c_str(), thread_name(f).c_str(),
                 describe(f).c_str());
        }
    }
    if (!exited.empty()) {
        fail("%s: __syncthreads at %s reached by part of the block: threads %s wait there, threads %s have exited "
             "(linear thread indices)", where().c_str(), site(first->file, first->line).c_str(),
             ranges(waiting).c_str(), ranges(exited).c_str());
    }
    for (int t : waiting) fibers[t].state = RUNNABLE;
}

static void run_block_fibers(int threads) {
    ensure_fibers(threads);
    for (int t = 0; t < threads; t++) {
        Fiber& f = fibers[t];
        f.linear = t;
        f.ctx.idx = Dim{t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y)};
        f.state = RUNNABLE;
        prepare(f);
    }
    std::vector<int> order;
    for (;;) {
        for (int t : visiting_order(threads, order)) {
            Fiber& f = fibers[t];
            if (f.state != RUNNABLE) continue;
            running = &f;
            current_thread = &f.ctx;
            emu_switch(&scheduler_sp, f.sp);
        }
        running = nullptr;
        bool live = false;
        for (int t = 0; t < threads && !live; t++) live = fibers[t].state != EXITED;
        if (!live) return;
        if (!release_shuffles(threads)) release_barrier(threads);
    }
}

static void run_block_plain(int threads) {
    ThreadContext ctx;
    current_thread = &ctx;
    std::vector<int> order;
    for (int t : visiting_order(threads, order)) {
        ctx.idx = Dim{t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y)};
        launch_kernel->invoke(launch_kernel->fn, launch_args);
    }
}

void run_grid(const char* name, const KernelImpl& kernel, void** args, Dim grid, Dim block, bool use_fibers) {
    launch_name = name;
    launch_kernel = &kernel;
    launch_args = args;
    grid_dim = grid;
    block_dim = block;
    int threads = static_cast<int>(block.x * block.y * block.z);
    uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
    std::vector<int> order;
    // Blocks are visited in the chosen order within runs of at most 2^20, so the order vector stays small.
    const uint64_t chunk = 1u << 20;
    for (uint64_t base = 0; base < blocks; base += chunk) {
        int n = static_cast<int>(std::min(chunk, blocks - base));
        for (int i : visiting_order(n, order)) {
            uint64_t b = base + i;
            block_idx = Dim{static_cast<unsigned>(b % grid.x), static_cast<unsigned>((b / grid.x) % grid.y),
                            static_cast<unsigned>(b / ((uint64_t)grid.x * grid.y))};
            if (use_fibers) {
                run_block_fibers(threads);
            } else {
                run_block_plain(threads);
            }
        }
    }
    current_thread = nullptr;
    launch_name = nullptr;
}

// Names the code running now, for the fault handler's message ("" outside a kernel).
std::string running_kernel() {
    if (launch_name == nullptr) return "";
    std::string s = where();
    if (current_thread != nullptr) {
        char buf[64];
        snprintf(buf, sizeof buf, ", thread (%u, %u, %u)", current_thread->idx.x, current_thread->idx.y,
                 current_thread->idx.z);
        s += buf;
    }
    return s;
}

}  // namespace emu
