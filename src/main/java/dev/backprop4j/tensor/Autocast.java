package dev.backprop4j.tensor;

/**
 * The precision of matrix products, per thread, as PyTorch's {@code torch.autocast(dtype=torch.bfloat16)} and
 * {@code torch.backends.cuda.matmul.allow_tf32}: inside {@code try (Autocast a = Autocast.bf16()) { forward and loss
 * }} every matrix product of float32 tensors (the dense layers' GEMMs and {@code matmul}, forward and the backward
 * they record) takes its inputs as bfloat16 and accumulates and writes in float32; inside {@link #tf32} its inputs
 * are rounded to TF32 (10 mantissa bits, to nearest with ties away from zero, as tensor cores take float32) with
 * float32 accumulation. Parameters, gradients and optimizer state stay float32 (the master weights) and no loss
 * scaling is needed; everything else (activations, norms, softmax, losses, reductions, the optimizer) computes in
 * float32 as without it. The choice is made when an op runs forward: its backward follows it wherever the backward
 * runs. Closing restores the previous setting.
 */
public final class Autocast implements AutoCloseable {

    /** The precisions of a matrix product's inputs. */
    public enum Precision { FP32, TF32, BF16 }

    private static final ThreadLocal<Precision[]> CURRENT = ThreadLocal.withInitial(() -> new Precision[] {
        Precision.FP32});

    private final Precision[] state;
    private final Precision previous;
    private boolean closed;

    private Autocast(Precision precision) {
        this.state = CURRENT.get();
        this.previous = state[0];
        state[0] = precision;
    }

    /** bfloat16 GEMM inputs until closed. */
    public static Autocast bf16() {
        return new Autocast(Precision.BF16);
    }

    /** TF32 GEMM inputs until closed. */
    public static Autocast tf32() {
        return new Autocast(Precision.TF32);
    }

    /** {@code precision}'s scope: {@link #bf16}, {@link #tf32}, or exact float32 (a part that must stay exact). */
    public static Autocast of(Precision precision) {
        return new Autocast(precision);
    }

    /** The precision of GEMM inputs on this thread now. */
    public static Precision precision() {
        return CURRENT.get()[0];
    }

    /** "fp32", "tf32" or "bf16": the precision of that name. */
    public static Precision parse(String name) {
        return switch (name) {
            case "fp32" -> Precision.FP32;
            case "tf32" -> Precision.TF32;
            case "bf16" -> Precision.BF16;
            default -> throw new IllegalArgumentException("--precision must be fp32, tf32 or bf16, got '" + name + "'");
        };
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            state[0] = previous;
        }
    }
}
