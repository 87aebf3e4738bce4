package dev.backprop4j.ops;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Shape;
import dev.backprop4j.tensor.Tensor;

/**
 * The in-place updates of training, outside the tape: the fused optimizer steps (SGD, Adam, AdamW over every
 * parameter in one backend call) and gradient clipping by global norm. Formulas: {@code Backend.sgdStep},
 * {@code adamStep} and {@code clipGradNorm}. The learning rate and each parameter's step count are device tensors
 * that the device reads and counts, and clipping computes and applies the norm on the device, so none of them waits
 * for the device and a CUDA graph can replay them.
 */
public final class Updates {
    private Updates() {
    }

    /**
     * SGD on every params[i] whose grads[i] is not null: t = ++steps[i], then Backend.sgdStep's formula with the
     * learning rate lr[0]; velocities[i] is its momentum buffer (all null, or the array null, without momentum).
     */
    public static void sgd(Tensor[] params, Tensor[] grads, Tensor[] velocities, Tensor lr, Tensor steps,
                           double momentum, double dampening, double weightDecay, boolean nesterov) {
        check("sgd", params, grads, lr, steps);
        lr.backend().sgdStep(buffers(params), buffers(grads), velocities == null ? null : buffers(velocities),
                lr.buffer(), steps.buffer(), momentum, dampening, weightDecay, nesterov);
    }

    /** Adam, or AdamW when decoupled, on every params[i] with a gradient: moments m[i] and v[i], as {@link #sgd}. */
    public static void adam(Tensor[] params, Tensor[] grads, Tensor[] m, Tensor[] v, Tensor lr, Tensor steps,
                            double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        check("adam", params, grads, lr, steps);
        lr.backend().adamStep(buffers(params), buffers(grads), buffers(m), buffers(v), lr.buffer(), steps.buffer(),
                beta1, beta2, eps, weightDecay, decoupled);
    }

    /**
     * Scales the gradients in place so that their global norm is at most {@code maxNorm} (infinite: only measures
     * it), as torch.nn.utils.clip_grad_norm_: g = g maxNorm / (norm + 1e-6) where that factor is below 1, with
     * norm = sqrt(sum of every g^2). Returns the norm before clipping, a float64 scalar on the gradients' device;
     * nothing waits for the device.
     */
    public static Tensor clipGradNorm(Tensor[] grads, double maxNorm) {
        if (grads.length == 0) {
            throw new IllegalArgumentException("clipGradNorm: no gradients");
        }
        for (Tensor g : grads) {
            OpSupport.floating("clipGradNorm", g);
            OpSupport.compatible("clipGradNorm", grads[0], g);
        }
        Tensor norm = Tensor.empty(Shape.scalar(), DType.FLOAT64, grads[0].device());
        norm.backend().clipGradNorm(buffers(grads), maxNorm, norm.buffer());
        return norm;
    }

    private static void check(String op, Tensor[] params, Tensor[] grads, Tensor lr, Tensor steps) {
        if (grads.length != params.length || steps.size() != params.length || lr.size() != 1
                || lr.dtype() != DType.FLOAT64 || steps.dtype() != DType.FLOAT64) {
            throw new IllegalArgumentException(op + ": " + params.length + " parameters, " + grads.length
                    + " gradients, learning rate " + lr.describe() + " and steps " + steps.describe() + " (expected "
                    + "a gradient or null per parameter, a float64 learning rate and a float64 count per parameter)");
        }
        for (int i = 0; i < params.length; i++) {
            if (grads[i] != null && !grads[i].shape().equals(params[i].shape())) {
                throw new IllegalArgumentException(op + ": gradient " + grads[i].describe() + " of parameter "
                        + params[i].describe());
            }
        }
    }

    /** The buffers of the given tensors (null stays null), for the backend's fused updates. */
    private static Buffer[] buffers(Tensor[] tensors) {
        Buffer[] out = new Buffer[tensors.length];
        for (int i = 0; i < tensors.length; i++) {
            out[i] = tensors[i] == null ? null : tensors[i].buffer();
        }
        return out;
    }
}
