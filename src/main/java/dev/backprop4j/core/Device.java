package dev.backprop4j.core;

/**
 * Where a tensor's memory lives: the CPU, or CUDA device {@code index}. A plain value: which devices exist and
 * which one "auto" means is the business of {@code dev.backprop4j.tensor.Backends}.
 */
public record Device(Kind kind, int index) {

    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (index < 0) {
            throw new IllegalArgumentException("device index must be >= 0, got " + index);
        }
    }

    public static Device cpu() {
        return CPU;
    }

    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    public static Device cuda() {
        return cuda(0);
    }

    /**
     * Parses "cpu", "cuda" (cuda:0) and "cuda:N" ("gpu" is refused with a hint, as PyTorch refuses it). "auto"
     * depends on the machine, so it is not a value to parse here: {@code Backends.device(text)} accepts it too.
     */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "' (expected cpu, cuda or cuda:N"
                + (t.equals("auto") ? "; for auto use Backends.device(\"auto\")" : "")
                + (t.startsWith("gpu") ? "; a GPU is cuda, as in PyTorch" : "") + ")");
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
