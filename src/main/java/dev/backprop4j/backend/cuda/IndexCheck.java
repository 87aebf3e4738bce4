package dev.backprop4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The device-side records through which kernels report an out-of-range label or index, since a kernel cannot
 * throw. One record per {@link Kind}, {@link #RECORD_BYTES} bytes each, in one block of {@link #BYTES} bytes per
 * device: word 0 holds {@code (row << 32) | (value & 0xffffffff)} of the smallest offending row reported since the
 * record was last cleared (an {@code atomicMin}), or all ones ({@link #NO_ERROR}); word 1 holds the valid range's
 * end (classes or columns) of the launch that set word 0 (launches on one stream never overlap, and every thread of
 * a launch writes the same limit, so the pair stays consistent).
 *
 * <p>Records are sticky: a launch never clears them, so any number of checked launches (eager, or replayed in a
 * CUDA graph) can run between two reads, and reading costs one copy of {@link #BYTES} bytes whenever the host
 * waits anyway ({@code CudaBackend.verifyChecks}) or with a non-blocking read ({@code CudaBackend.readLater}).
 * Rows that fail are not read out of bounds: cross-entropy writes loss NaN for them (probabilities are still
 * written), gather writes 0, scatter skips them.
 */
final class IndexCheck {

    /** What was checked: the op named in the error and what its index is called. */
    enum Kind {
        CROSS_ENTROPY("cross_entropy", "label"), GATHER("gather", "index"), SCATTER("scatter", "index"),
        EMBEDDING("embedding", "index");

        final String op;
        final String what;

        Kind(String op, String what) {
            this.op = op;
            this.what = what;
        }
    }

    /** Bytes of one record: the offending (row, value) word and the limit word. */
    static final long RECORD_BYTES = 16;

    /** Bytes of the records of all kinds. */
    static final long BYTES = RECORD_BYTES * Kind.values().length;

    /** Word 0 of a record when no row was out of range. */
    static final long NO_ERROR = -1L;

    private IndexCheck() {
    }

    /** The record of {@code kind} inside the block at {@code records}. */
    static CUdeviceptr record(CUdeviceptr records, Kind kind) {
        return records.withByteOffset(RECORD_BYTES * kind.ordinal());
    }

    /** Clears every record (all ones), asynchronously on {@code stream}. */
    static void clear(CUdeviceptr records, CUstream stream) {
        KernelModule.check(() -> JCudaDriver.cuMemsetD32Async(records, 0xFFFFFFFF, BYTES / 4, stream),
                () -> "clearing the index error records");
    }

    /** The records' words, in one synchronous copy (ordered after every launch queued before it). */
    static long[] read(CUdeviceptr records) {
        long[] host = new long[(int) (BYTES / 8)];
        KernelModule.check(() -> JCudaDriver.cuMemcpyDtoH(Pointer.to(host), records, BYTES),
                () -> "reading the index error records");
        return host;
    }

    /** The records' words from a host copy of the block. */
    static long[] words(ByteBuffer copy) {
        long[] w = new long[(int) (BYTES / 8)];
        copy.duplicate().order(ByteOrder.nativeOrder()).asLongBuffer().get(w);
        return w;
    }

    /**
     * Throws what the CPU backend throws for the same input, for the first kind (in {@link Kind} order) whose
     * record holds an error, e.g. {@code "cross_entropy: label 12 in row 3 is outside [0, 10)"}; returns when none.
     */
    static void throwIfBad(long[] words) {
        for (Kind k : Kind.values()) {
            long first = words[2 * k.ordinal()];
            if (first != NO_ERROR) {
                throw new IllegalArgumentException(k.op + ": " + k.what + " " + (int) first + " in row "
                        + (int) (first >>> 32) + " is outside [0, " + words[2 * k.ordinal() + 1] + ")");
            }
        }
    }

    /** Whether any record holds an error. */
    static boolean anyBad(long[] words) {
        for (Kind k : Kind.values()) {
            if (words[2 * k.ordinal()] != NO_ERROR) {
                return true;
            }
        }
        return false;
    }
}
