package dev.backprop4j.core;

/**
 * Element types. {@link #FLOAT32} is the working type; {@link #FLOAT64} exists for checking gradients;
 * {@link #INT32} holds class labels and indices (argmax results) and takes part in no arithmetic op.
 */
public enum DType {
    FLOAT32(4, "float32"),
    FLOAT64(8, "float64"),
    INT32(4, "int32");

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

    /** The dtype named as in PyTorch and safetensors-free text: "float32", "float64", "int32". */
    public static DType parse(String name) {
        for (DType d : values()) {
            if (d.label.equalsIgnoreCase(name) || d.name().equalsIgnoreCase(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "' (expected float32, float64 or int32)");
    }

    @Override
    public String toString() {
        return label;
    }
}
