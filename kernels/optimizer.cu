// Fused optimizer updates, in place, every parameter of the update in one launch: SGD with momentum / Nesterov /
// weight decay, and Adam / AdamW. Formulas: Backend.sgdStep / adamStep (as PyTorch), evaluated in T in the CPU's
// order. The learning rate is read from device memory, and each parameter counts its own steps there: every
// block updates with its parameter's count + 1, and the launch's last block stores the new counts. So a CUDA
// graph that captured the launch replays it under a schedule, with Adam's bias corrections moving on, while the
// host writes nothing but the learning rate. Launchers: OptimizerKernels.java.
#include "common.cuh"

#define LIST_MAX 24         // tensors per launch; OptimizerKernels splits longer lists
#define LIST_BLOCK 2048     // elements per block: 256 threads x 8

// The tensors of one launch, passed by value as consecutive 64-bit fields (OptimizerKernels.tensorList): count;
// per tensor its element count n, its first block start (start[count] is the grid), and the addresses of the
// parameter, its gradient, its two state buffers (0 where unused) and its step count (a double).
struct TensorList {
    i64 count;
    i64 n[LIST_MAX];
    i64 start[LIST_MAX + 1];
    u64 param[LIST_MAX];
    u64 grad[LIST_MAX];
    u64 state1[LIST_MAX];
    u64 state2[LIST_MAX];
    u64 step[LIST_MAX];
};

// The tensor this block updates, and the element range [lo, hi) of it.
__device__ __forceinline__ int list_tensor(const TensorList& l, i64& lo, i64& hi) {
    int t = 0;
    while (t + 1 < l.count && (i64)blockIdx.x >= l.start[t + 1]) t++;
    lo = ((i64)blockIdx.x - l.start[t]) * LIST_BLOCK;
    hi = lo + LIST_BLOCK < l.n[t] ? lo + LIST_BLOCK : l.n[t];
    return t;
}

// The step this update is for: the tensor's count so far + 1 (every block reads the count before the last one
// stores it).
__device__ __forceinline__ double this_step(const TensorList& l, int t) {
    return *(const double*)l.step[t] + 1.0;
}

// After the launch: each tensor's count + 1, stored by the last block.
__device__ __forceinline__ void count_steps(const TensorList& l, unsigned* ticket) {
    if (last_block_done(ticket) && threadIdx.x == 0) {
        for (int t = 0; t < l.count; t++) {
            *(double*)l.step[t] += 1.0;
        }
    }
}

// g = grad + wd p; with momentum: v = step == 1 ? g : momentum v + (1 - dampening) g (stored back), and
// d = nesterov ? g + momentum v : v; without momentum d = g (velocity is not touched and may be null);
// p -= lr d.
template <typename T>
__device__ void sgd_step(const TensorList& l, const double* lr, unsigned* ticket, double momentum, double dampening,
                         double weight_decay, int nesterov) {
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    T* param = (T*)l.param[t];
    const T* grad = (const T*)l.grad[t];
    T* velocity = (T*)l.state1[t];
    const bool first_step = this_step(l, t) == 1.0;
    const T t_lr = (T)*lr, t_mom = (T)momentum, t_keep = (T)(1.0 - dampening), t_wd = (T)weight_decay;
    const bool use_momentum = momentum != 0.0;
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        const T p = param[i];
        const T g = grad[i] + t_wd * p;
        T d = g;
        if (use_momentum) {
            const T v = first_step ? g : t_mom * velocity[i] + t_keep * g;
            velocity[i] = v;
            d = nesterov ? g + t_mom * v : v;
        }
        param[i] = p - t_lr * d;
    }
    count_steps(l, ticket);
}

// decoupled (AdamW): p -= lr wd p first; else g = grad + wd p. Then m = b1 m + (1 - b1) g,
// v = b2 v + (1 - b2) g^2, p -= lr (m / bc1) / (sqrt(v / bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t in
// double from the tensor's step t.
template <typename T>
__device__ void adam_step(const TensorList& l, const double* lr_value, unsigned* ticket, double beta1, double beta2,
                          double eps, double weight_decay, int decoupled) {
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    T* param = (T*)l.param[t];
    const T* grad = (const T*)l.grad[t];
    T* m = (T*)l.state1[t];
    T* v = (T*)l.state2[t];
    const double lr = *lr_value;
    const double step = this_step(l, t);
    const double bc1 = 1.0 - pow(beta1, step);
    const double bc2 = 1.0 - pow(beta2, step);
    const T t_lr = (T)lr, t_b1 = (T)beta1, t_1mb1 = (T)(1.0 - beta1), t_b2 = (T)beta2, t_1mb2 = (T)(1.0 - beta2);
    const T t_eps = (T)eps, t_wd = (T)weight_decay, t_lr_wd = (T)(lr * weight_decay), t_bc1 = (T)bc1, t_bc2 = (T)bc2;
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        T p = param[i];
        T g = grad[i];
        if (decoupled) {
            p -= t_lr_wd * p;
        } else {
            g += t_wd * p;
        }
        const T mi = t_b1 * m[i] + t_1mb1 * g;
        const T vi = t_b2 * v[i] + t_1mb2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - t_lr * (mi / t_bc1) / (k_sqrt(vi / t_bc2) + t_eps);
    }
    count_steps(l, ticket);
}

// ---- gradient clipping by global norm -----------------------------------------------------------------------

// The global norm of the gradients: partial[before + b] = the sum of g^2 over block b's range (in double); with
// finish, the launch's last block adds partial[0 .. before + grid) (earlier launches' blocks first) and stores
// norm[0] = sqrt of the total. The sum's order is fixed by the launch shapes, so the norm is deterministic.
template <typename T>
__device__ void grad_norm(const TensorList& l, double* partial, i64 before, int finish, double* norm,
                          unsigned* ticket) {
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    const T* g = (const T*)l.grad[t];
    double s = 0.0;
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        const double v = (double)g[i];
        s += v * v;
    }
    s = block_reduce<SumCombine>(s);
    if (threadIdx.x == 0) partial[before + blockIdx.x] = s;
    if (finish && last_block_done(ticket)) {
        const volatile double* all = partial;  // written by the other blocks of this and earlier launches
        const i64 total = before + (i64)gridDim.x;
        double acc = 0.0;
        for (i64 k = threadIdx.x; k < total; k += blockDim.x) acc += all[k];
        acc = block_reduce<SumCombine>(acc);
        if (threadIdx.x == 0) norm[0] = sqrt(acc);
    }
}

// g = g min(1, max_norm / (norm + 1e-6)) in place, as torch.nn.utils.clip_grad_norm_, the product in double;
// nothing is written when the factor is 1 (a NaN norm makes every gradient NaN, as in PyTorch).
template <typename T>
__device__ void grad_clip(const TensorList& l, const double* norm, double max_norm) {
    const double coef = max_norm / (*norm + 1e-6);
    if (coef >= 1.0) return;
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    T* g = (T*)l.grad[t];
    for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        g[i] = (T)((double)g[i] * coef);
    }
}

// ---- entry points -----------------------------------------------------------------------------------------

#define OPTIMIZER_ENTRIES(T, S)                                                                                        \
    KERNEL __launch_bounds__(256) sgd_step_##S(TensorList list, const double* lr, unsigned* ticket, double momentum,   \
                                               double dampening, double weight_decay, int nesterov) {                  \
        sgd_step<T>(list, lr, ticket, momentum, dampening, weight_decay, nesterov);                                    \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) adam_step_##S(TensorList list, const double* lr, unsigned* ticket, double beta1,     \
                                                double beta2, double eps, double weight_decay, int decoupled) {        \
        adam_step<T>(list, lr, ticket, beta1, beta2, eps, weight_decay, decoupled);                                    \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) grad_norm_##S(TensorList list, double* partial, i64 before, int finish,              \
                                                double* norm, unsigned* ticket) {                                      \
        grad_norm<T>(list, partial, before, finish, norm, ticket);                                                     \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) grad_clip_##S(TensorList list, const double* norm, double max_norm) {                \
        grad_clip<T>(list, norm, max_norm);                                                                            \
    }

OPTIMIZER_ENTRIES(float, f32)
OPTIMIZER_ENTRIES(double, f64)
