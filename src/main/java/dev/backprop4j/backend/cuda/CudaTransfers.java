package dev.backprop4j.backend.cuda;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.Conversions;
import dev.backprop4j.backend.PendingRead;
import dev.backprop4j.core.BFloat16;
import dev.backprop4j.core.DType;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

import java.nio.ByteBuffer;

/**
 * The host side of a CUDA backend's data: uploads (asynchronous, through {@link CudaMemcpy}'s pinned staging
 * ring), waiting reads, non-blocking reads ({@link #readLater}), and the deferred label and index checks that every
 * read verifies. Kernels report a bad label into a sticky device record ({@link IndexCheck}); this class counts
 * the checked launches queued and, whenever the host reads anyway, copies the records too (only when launches were
 * checked since the last read) and throws what the CPU backend would have thrown.
 */
final class CudaTransfers {
    private final CudaContext ctx;
    private final CudaMemcpy memcpy;
    private final CudaBuffer errors;
    /** Checked launches queued so far, and how many of them the last read of the error records covered. */
    private long checkedLaunches;
    private long verifiedLaunches;

    CudaTransfers(CudaContext ctx, CudaMemcpy memcpy) {
        this.ctx = ctx;
        this.memcpy = memcpy;
        this.errors = ctx.allocator().allocate(DType.FLOAT64, IndexCheck.BYTES / 8);
        IndexCheck.clear(errors.pointer(), ctx.stream());
    }

    private static CUdeviceptr ptr(Buffer b) {
        if (!(b instanceof CudaBuffer c)) {
            throw new IllegalArgumentException("expected a CUDA buffer, got one on " + b.device());
        }
        return c.pointer();
    }

    void write(Buffer dst, float[] src) {
        notWhileCapturing("write");
        checkWrite(dst, DType.FLOAT32, src.length);
        memcpy.upload(ptr(dst), 4L * src.length, b -> b.asFloatBuffer().put(src));
    }

    void write(Buffer dst, double[] src) {
        notWhileCapturing("write");
        checkWrite(dst, DType.FLOAT64, src.length);
        memcpy.upload(ptr(dst), 8L * src.length, b -> b.asDoubleBuffer().put(src));
    }

    void write(Buffer dst, int[] src) {
        notWhileCapturing("write");
        checkWrite(dst, DType.INT32, src.length);
        memcpy.upload(ptr(dst), 4L * src.length, b -> b.asIntBuffer().put(src));
    }

    void write(Buffer dst, short[] bf16) {
        notWhileCapturing("write");
        checkWrite(dst, DType.BFLOAT16, bf16.length);
        memcpy.upload(ptr(dst), 2L * bf16.length, b -> b.asShortBuffer().put(bf16));
    }

    /** An upload past the block would corrupt a neighbour silently: the CPU backend fails here, so does this one. */
    private static void checkWrite(Buffer dst, DType type, int n) {
        if (dst.dtype() != type || dst.length() != n) {
            throw new IllegalArgumentException("write: " + n + " " + type + " values into a buffer of " + dst.length()
                    + " " + dst.dtype() + " on " + dst.device());
        }
    }

    float[] readFloats(Buffer src) {
        notWhileCapturing("read");
        return switch (src.dtype()) {
            case FLOAT32 -> {
                verifyChecks();
                float[] out = new float[(int) src.length()];
                memcpy.download(ptr(src), Pointer.to(out), 4L * out.length);
                yield out;
            }
            case FLOAT64 -> Conversions.toFloats(readDoubles(src));
            case INT32 -> Conversions.toFloats(readInts(src));
            case BFLOAT16 -> Conversions.bf16ToFloats(readBf16(src));
        };
    }

    double[] readDoubles(Buffer src) {
        notWhileCapturing("read");
        return switch (src.dtype()) {
            case FLOAT64 -> {
                verifyChecks();
                double[] out = new double[(int) src.length()];
                memcpy.download(ptr(src), Pointer.to(out), 8L * out.length);
                yield out;
            }
            case FLOAT32 -> Conversions.toDoubles(readFloats(src));
            case INT32 -> Conversions.toDoubles(readInts(src));
            case BFLOAT16 -> Conversions.toDoubles(Conversions.bf16ToFloats(readBf16(src)));
        };
    }

    int[] readInts(Buffer src) {
        int[] out = new int[checkedRead(src, DType.INT32, "readInts")];
        memcpy.download(ptr(src), Pointer.to(out), 4L * out.length);
        return out;
    }

    short[] readBf16(Buffer src) {
        short[] out = new short[checkedRead(src, DType.BFLOAT16, "readBf16")];
        memcpy.download(ptr(src), Pointer.to(out), 2L * out.length);
        return out;
    }

    /** The length of {@code src}, a buffer of {@code type} that may be read now (not while capturing, checks passed). */
    private int checkedRead(Buffer src, DType type, String op) {
        notWhileCapturing("read");
        verifyChecks();
        if (src.dtype() != type) {
            throw new IllegalArgumentException(op + ": buffer holds " + src.dtype());
        }
        return (int) src.length();
    }

    PendingRead readLater(Buffer src) {
        notWhileCapturing("readLater");
        long bytes = src.length() * src.dtype().bytes();
        long upTo;
        boolean withErrors;
        CudaMemcpy.PendingCopy copy;
        synchronized (this) {
            upTo = checkedLaunches;
            withErrors = upTo != verifiedLaunches;
            copy = withErrors
                    ? memcpy.downloadLater(new CUdeviceptr[] {ptr(src), errors.pointer()}, new long[] {bytes, IndexCheck.BYTES})
                    : memcpy.downloadLater(new CUdeviceptr[] {ptr(src)}, new long[] {bytes});
        }
        DType type = src.dtype();
        int n = (int) src.length();
        return new PendingRead() {
            private boolean taken;

            @Override
            public boolean isDone() {
                return taken || copy.isDone();
            }

            @Override
            public double[] get() {
                if (taken) {
                    throw new IllegalStateException("readLater: the values were already taken");
                }
                taken = true;
                ByteBuffer b = copy.take();
                double[] out = new double[n];
                for (int i = 0; i < n; i++) {
                    out[i] = switch (type) {
                        case FLOAT32 -> b.getFloat(4 * i);
                        case FLOAT64 -> b.getDouble(8 * i);
                        case INT32 -> b.getInt(4 * i);
                        case BFLOAT16 -> BFloat16.toFloat(b.getShort(2 * i));
                    };
                }
                if (withErrors) {
                    verified(upTo, IndexCheck.words(b.position((int) ((bytes + 7) & ~7L))));
                }
                return out;
            }
        };
    }

    /** The error record for one more checked launch of {@code kind}. */
    /**
     * Copies between host and device cannot be part of a CUDA graph: a captured upload would copy, at every replay,
     * whatever its staging buffer holds by then, and a read cannot wait inside a capture. Fails naming the call.
     */
    private void notWhileCapturing(String call) {
        if (ctx.allocator().isCapturing()) {
            throw new IllegalStateException(call + ": copies between the host and " + ctx.device() + " cannot be "
                    + "captured in a CUDA graph; write the values before capturing (into device tensors the graph "
                    + "reads) and read them after replaying");
        }
    }

    synchronized CUdeviceptr checked(IndexCheck.Kind kind) {
        checkedLaunches++;
        return IndexCheck.record(errors.pointer(), kind);
    }

    /**
     * Counts {@code launches} checked launches queued outside the launchers, by a CUDA graph replaying captured
     * ones, so that the next read verifies the error records again.
     */
    synchronized void countCheckedLaunches(long launches) {
        checkedLaunches += launches;
    }

    /** Checked launches queued so far (a CUDA graph counts those it captured, to report them per replay). */
    synchronized long checkedLaunches() {
        return checkedLaunches;
    }

    /**
     * When checked launches were queued since the last verification, reads the error records (one copy, which
     * waits for the stream) and throws for the first bad label or index.
     */
    synchronized void verifyChecks() {
        if (verifiedLaunches == checkedLaunches) {
            return;
        }
        ctx.makeCurrent();
        long upTo = checkedLaunches;
        long[] words = IndexCheck.read(errors.pointer());
        verified(upTo, words);
    }

    /** Records that the checks up to {@code upTo} were read as {@code words}; throws (and clears them) if bad. */
    private synchronized void verified(long upTo, long[] words) {
        verifiedLaunches = Math.max(verifiedLaunches, upTo);
        if (IndexCheck.anyBad(words)) {
            IndexCheck.clear(errors.pointer(), ctx.stream());
            IndexCheck.throwIfBad(words);
        }
    }
}
