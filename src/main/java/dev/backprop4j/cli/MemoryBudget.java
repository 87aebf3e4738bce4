package dev.backprop4j.cli;

import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.Device;
import dev.backprop4j.tensor.Autocast;
import dev.backprop4j.train.RunSpec;

import java.util.Locale;

/**
 * Refuses a model that cannot fit before any of it is allocated: the bytes a run needs (estimated by
 * {@link #bytesNeeded}) against what the device has free (the Java heap's head room on the CPU, the free
 * device memory on a GPU), with both figures in the message.
 */
final class MemoryBudget {

    private MemoryBudget() {
    }

    /** Fails naming both figures when {@code bytes} do not fit on {@code device}; {@code what} says for what. */
    static void require(String what, long bytes, Device device) {
        long free = available(device);
        if (bytes > free) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s needs about %s but %s has %s free; %s",
                    what, gib(bytes), device, gib(free), device.isCuda() ? "use smaller --layers or --batch"
                            : "give Java more with -Xmx (java -Xmx" + (long) Math.ceil(1.25 * bytes / (1L << 30) + 1)
                            + "g -jar ...) or use smaller --layers or --batch"));
        }
    }

    /**
     * About the bytes a run needs: float32 parameters, and for training their gradients and the optimizer's state
     * (Adam 2 copies, SGD 1), plus the activations of a batch of {@code rows} kept for the backward and the
     * backward's transients (about four float32 tensors of each kept output's width); with bf16 autocast the kept
     * activation is bfloat16 (one of the four at half the bytes) and the weights' bfloat16 copies come on top.
     */
    static long bytesNeeded(RunSpec spec, boolean training, int rows) {
        long copies = training ? 2 + (spec.optimizer() == RunSpec.OptimizerKind.SGD ? 1 : 2) : 1;
        long activations = (long) rows * spec.activationWidths();
        boolean bf16 = training && spec.plan().precision() == Autocast.Precision.BF16;
        return 4 * spec.parameterCount() * copies + (bf16 ? 14 * activations + 2 * spec.parameterCount()
                : 16 * activations);
    }

    /** Bytes free for new allocations on {@code device}. */
    static long available(Device device) {
        if (device.isCuda()) {
            return Cuda.freeBytes(device.index());
        }
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    /** What to say when the Java heap ran out anyway. */
    static String heapAdvice() {
        return "the Java heap (" + gib(Runtime.getRuntime().maxMemory()) + ") is full; give Java more with -Xmx "
                + "(java -Xmx16g -jar ...) or use smaller --layers or --batch";
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
