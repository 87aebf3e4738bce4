// Fused optimizer updates, in place, one pass over the parameters: SGD with momentum / Nesterov / weight decay,
// and Adam / AdamW. Formulas: Backend.sgdStep / adamStep (as PyTorch), evaluated in T in the CPU's order.
// Launchers: OptimizerKernels.java.
#include "common.cuh"

// g = grad + wd p; with momentum: v = first_step ? g : momentum v + (1 - dampening) g (stored back), and
// d = nesterov ? g + momentum v : v; without momentum d = g (velocity is not touched and may be null);
// p -= lr d.
template <typename T>
__device__ void sgd_step(T* param, T* velocity, const T* grad, i64 n, double lr, double momentum, double dampening,
                         double weight_decay, int nesterov, int first_step) {
    const T t_lr = (T)lr, t_mom = (T)momentum, t_keep = (T)(1.0 - dampening), t_wd = (T)weight_decay;
    const bool use_momentum = momentum != 0.0;
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
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
// v = b2 v + (1 - b2) g^2, p -= lr (m / bc1) / (sqrt(v / bc2) + eps), with bc1 = 1 - b1^t and bc2 = 1 - b2^t
// computed by the launcher.
template <typename T>
__device__ void adam_step(T* param, T* m, T* v, const T* grad, i64 n, double lr, double beta1, double beta2,
                          double eps, double weight_decay, int decoupled, double bc1, double bc2) {
    const T t_lr = (T)lr, t_b1 = (T)beta1, t_1mb1 = (T)(1.0 - beta1), t_b2 = (T)beta2, t_1mb2 = (T)(1.0 - beta2);
    const T t_eps = (T)eps, t_wd = (T)weight_decay, t_lr_wd = (T)(lr * weight_decay), t_bc1 = (T)bc1, t_bc2 = (T)bc2;
    for (u64 i = global_thread(); i < (u64)n; i += global_stride()) {
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
    KERNEL __launch_bounds__(256) sgd_step_##S(T* param, T* velocity, const T* grad, i64 n, double lr,                 \
                                               double momentum, double dampening, double weight_decay,                 \
                                               int nesterov, int first_step) {                                         \
        sgd_step<T>(param, velocity, grad, n, lr, momentum, dampening, weight_decay, nesterov, first_step);            \
    }                                                                                                                  \
    KERNEL __launch_bounds__(256) adam_step_##S(T* param, T* m, T* v, const T* grad, i64 n, double lr,                 \
                                                double beta1, double beta2, double eps, double weight_decay,           \
                                                int decoupled, double bc1, double bc2) {                               \
        adam_step<T>(param, m, v, grad, n, lr, beta1, beta2, eps, weight_decay, decoupled, bc1, bc2);                  \
    }

OPTIMIZER_ENTRIES(float, f32)
OPTIMIZER_ENTRIES(double, f64)
