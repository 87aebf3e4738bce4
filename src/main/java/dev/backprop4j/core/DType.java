package dev.backprop4j.core;

/**
 * Element types. {@link #FLOAT32} is the working type; {@link #FLOAT64} exists for checking gradients;
 * {@link #INT32} holds class labels and indices (argmax results) and takes part in no arithmetic op;
 * {@link #BFLOAT16} ({@link BFloat16}) is storage: tensors of it are cast, moved, viewed, read, printed, saved and
 * loaded, and every arithmetic op refuses them (cast to float32 first), but for the dense layer under bfloat16
 * autocast, which takes them as its GEMM input; their gradients are float32 ({@link #gradient}).
 */
public enum DType {
    FLOAT32(4, "float32"),
    FLOAT64(8, "float64"),
    INT32(4, "int32"),
    BFLOAT16(2, "bfloat16");

    private final int bytes;
    private final String label;

    DType(int bytes, String label) {
        this.bytes = bytes;
        this.label = label;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    public boolean isFloating() {
        return this != INT32;
    }

    /** Whether ops compute in this dtype (not {@link #BFLOAT16}, which is storage only). */
    public boolean isArithmetic() {
        return this != BFLOAT16;
    }

    /** The dtype of this dtype's gradients: float32 for bfloat16 (autocast's activations), else this. */
    public DType gradient() {
        return this == BFLOAT16 ? FLOAT32 : this;
    }

    /** The dtype named as in PyTorch and safetensors-free text: "float32", "float64", "int32", "bfloat16". */
    public static DType parse(String name) {
        for (DType d : values()) {
            if (d.label.equalsIgnoreCase(name) || d.name().equalsIgnoreCase(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "' (expected float32, float64, int32 or bfloat16)");
    }

    @Override
    public String toString() {
        return label;
    }
}
