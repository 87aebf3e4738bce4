package dev.backprop4j.tensor;

import dev.backprop4j.backend.Backends;

/**
 * Where a tensor's memory lives: the CPU, or CUDA device {@code index}.
 * {@link #auto()} picks the first GPU when CUDA is usable, else the CPU, and logs its choice once.
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

    /** The first CUDA device if one is usable, else the CPU; the reason is logged once. */
    public static Device auto() {
        return Backends.autoDevice();
    }

    /** Parses "cpu", "cuda", "cuda:1" or "auto". */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("auto")) {
            return auto();
        }
        if (t.equals("cuda") || t.equals("gpu")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "' (expected cpu, cuda, cuda:N or auto)");
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
