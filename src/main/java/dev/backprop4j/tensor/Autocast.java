package dev.backprop4j.tensor;

import dev.backprop4j.core.DType;

/**
 * Mixed precision as PyTorch's {@code torch.autocast(dtype=torch.bfloat16)}, per thread: inside
 * {@code try (Autocast a = Autocast.bf16()) { forward and loss }} every matrix product of float32 tensors (the dense
 * layers' GEMMs and {@code matmul}, forward and the backward they record) takes its inputs rounded to bfloat16 and
 * accumulates and writes in float32, so parameters, gradients and optimizer state stay float32 (the master weights)
 * and no loss scaling is needed. Everything else (activations, norms, softmax, losses, reductions, the optimizer)
 * computes in float32 as without it. The choice is made when an op runs forward: its backward follows it wherever
 * the backward runs. Closing restores the previous setting.
 */
public final class Autocast implements AutoCloseable {
    private static final ThreadLocal<DType[]> GEMM_INPUTS = ThreadLocal.withInitial(() -> new DType[] {null});

    private final DType[] state;
    private final DType previous;
    private boolean closed;

    private Autocast(DType gemmInputs) {
        this.state = GEMM_INPUTS.get();
        this.previous = state[0];
        state[0] = gemmInputs;
    }

    /** bfloat16 GEMM inputs until closed. */
    public static Autocast bf16() {
        return new Autocast(DType.BFLOAT16);
    }

    /** Plain float32 until closed (inside an autocast region: a part that must stay exact). */
    public static Autocast off() {
        return new Autocast(null);
    }

    /** The dtype GEMM inputs are rounded to on this thread now, or null (none: float32). */
    public static DType gemmInputs() {
        return GEMM_INPUTS.get()[0];
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            state[0] = previous;
        }
    }
}
