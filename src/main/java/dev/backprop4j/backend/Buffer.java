package dev.backprop4j.backend;

import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A flat, contiguous block of {@link #length()} elements of one {@link DType} on one device.
 * Several tensors may share a buffer (reshape, detach); it is reference counted and its memory
 * goes back to its backend when the last holder calls {@link #release()}.
 */
public abstract class Buffer {
    private final DType dtype;
    private final long length;
    private final AtomicInteger refs = new AtomicInteger(1);

    protected Buffer(DType dtype, long length) {
        this.dtype = dtype;
        this.length = length;
    }

    public final DType dtype() {
        return dtype;
    }

    public final long length() {
        return length;
    }

    public abstract Device device();

    /** Adds a holder. */
    public final Buffer retain() {
        int r = refs.getAndIncrement();
        if (r <= 0) {
            refs.decrementAndGet();
            throw new IllegalStateException("buffer of " + length + " " + dtype + " on " + device() + " is already freed");
        }
        return this;
    }

    /** Drops a holder; the last one frees the memory. Extra calls do nothing. */
    public final void release() {
        int r = refs.decrementAndGet();
        if (r == 0) {
            free();
        } else if (r < 0) {
            refs.set(0);
        }
    }

    /** True when more than one holder shares this buffer (views, detached copies). */
    public final boolean isShared() {
        return refs.get() > 1;
    }

    public final boolean isFreed() {
        return refs.get() <= 0;
    }

    /** Returns the memory to the backend; called once, by the last {@link #release()}. */
    protected abstract void free();
}
