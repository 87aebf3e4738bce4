// Fused optimizer updates, in place, every parameter of the update in one launch: SGD with momentum / Nesterov /
// weight decay, and Adam / AdamW. Formulas: Backend.sgdStep / adamStep (as PyTorch), evaluated in T in the CPU's
// order. The learning rate and each parameter's step count are read from device memory (hyper), so a CUDA graph
// that captured the launch replays it under a schedule. Launchers: OptimizerKernels.java.
#include "common.cuh"

#define LIST_MAX 24         // tensors per launch; OptimizerKernels splits longer lists
#define LIST_BLOCK 2048     // elements per block: 256 threads x 8

// The tensors of one launch, passed by value as consecutive 64-bit fields (OptimizerKernels.TensorList): count;
// index0, the position of tensor 0 in hyper's step list; per tensor its element count n, its first block start
// (start[count] is the grid), and the addresses of the parameter, its gradient and its two state buffers (0 where
// unused).
struct TensorList {
    i64 count;
    i64 index0;
    i64 n[LIST_MAX];
    i64 start[LIST_MAX + 1];
    u64 param[LIST_MAX];
    u64 grad[LIST_MAX];
    u64 state1[LIST_MAX];
    u64 state2[LIST_MAX];
};

// The tensor this block updates, and the element range [lo, hi) of it.
__device__ __forceinline__ int list_tensor(const TensorList& l, i64& lo, i64& hi) {
    int t = 0;
    while (t + 1 < l.count && (i64)blockIdx.x >= l.start[t + 1]) t++;
    lo = ((i64)blockIdx.x - l.start[t]) * LIST_BLOCK;
    hi = lo + LIST_BLOCK < l.n[t] ? lo + LIST_BLOCK : l.n[t];
    return t;
}

// g = grad + wd p; with momentum: v = step == 1 ? g : momentum v + (1 - dampening) g (stored back), and
// d = nesterov ? g + momentum v : v; without momentum d = g (velocity is not touched and may be null);
// p -= lr d.
template <typename T>
__device__ void sgd_step(const TensorList& l, const double* hyper, double momentum, double dampening,
                         double weight_decay, int nesterov) {
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    T* param = (T*)l.param[t];
    const T* grad = (const T*)l.grad[t];
    T* velocity = (T*)l.state1[t];
    const bool first_step = hyper[1 + l.index0 + t] == 1.0;
    const T t_lr = (T)hyper[0], t_mom = (T)momentum, t_keep = (T)(1.0 - dampening), t_wd = (T)weight_decay;
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
}

// decoupled (AdamW): p -= lr wd p first; else g = grad + wd p. Then m = b1 m + (1 - b1) g,
// v = b2 v + (1 - b2) g^2, p -= lr (m / bc1) / (sqrt(v / bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t in
// double from the tensor's step t.
template <typename T>
__device__ void adam_step(const TensorList& l, const double* hyper, double beta1, double beta2, double eps,
                          double weight_decay, int decoupled) {
    i64 lo, hi;
    const int t = list_tensor(l, lo, hi);
    T* param = (T*)l.param[t];
    const T* grad = (const T*)l.grad[t];
    T* m = (T*)l.state1[t];
    T* v = (T*)l.state2[t];
    const double lr = hyper[0];
    const double step = hyper[1 + l.index0 + t];
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
}

// ---- entry points -----------------------------------------------------------------------------------------

#define OPTIMIZER_ENTRIES(T, S)                                                                                        \
    KERNEL __launch_bounds__(256) sgd_step_##S(TensorList list, const double* hyper, double momentum,                  \
                                               double dampening, double weight_decay, int nesterov) {                  \
        sgd_step<T>(list, hyper, momentum, dampening, weight_decay, nesterov);                                         \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) adam_step_##S(TensorList list, const double* hyper, double beta1, double beta2,      \
                                                double eps, double weight_decay, int decoupled) {                      \
        adam_step<T>(list, hyper, beta1, beta2, eps, weight_decay, decoupled);                                         \
    }

OPTIMIZER_ENTRIES(float, f32)
OPTIMIZER_ENTRIES(double, f64)
