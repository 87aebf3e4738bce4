package dev.backprop4j.backend.cpu;

import dev.backprop4j.backend.Buffer;
import dev.backprop4j.core.BFloat16;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;

/**
 * A CPU buffer: a Java array of the buffer's dtype. {@link #get}/{@link #set} read and write any dtype
 * as double, which the reference loops use; hot loops take the typed array.
 */
public abstract class CpuBuffer extends Buffer {

    private CpuBuffer(DType dtype, int length) {
        super(dtype, length);
    }

    /** Arrays of freed buffers kept for reuse: a quarter of the maximum heap at most. */
    static final CpuBufferPool POOL = new CpuBufferPool(Runtime.getRuntime().maxMemory() / 4);

    /** A new zero-filled buffer (fresh Java arrays are zero). */
    static CpuBuffer allocate(DType dtype, long length) {
        int n = checkedLength(length);
        return switch (dtype) {
            case FLOAT32 -> new F32(new float[n]);
            case FLOAT64 -> new F64(new double[n]);
            case INT32 -> new I32(new int[n]);
            case BFLOAT16 -> new BF16(new short[n]);
        };
    }

    /** A buffer with undefined contents, reusing a freed array of the same dtype and length when one is cached. */
    static CpuBuffer allocateReusing(DType dtype, long length) {
        int n = checkedLength(length);
        Object a = POOL.take(dtype, n);
        if (a == null) {
            return allocate(dtype, n);
        }
        return switch (dtype) {
            case FLOAT32 -> new F32((float[]) a);
            case FLOAT64 -> new F64((double[]) a);
            case INT32 -> new I32((int[]) a);
            case BFLOAT16 -> new BF16((short[]) a);
        };
    }

    /** A float32 buffer over {@code values} (not pooled: for a backend's temporaries). */
    static CpuBuffer of(float[] values) {
        return new F32(values);
    }

    private static int checkedLength(long length) {
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("CPU buffers hold at most 2^31-1 elements, asked for " + length);
        }
        return (int) length;
    }

    /** Number of elements as an int. */
    public final int size() {
        return (int) length();
    }

    public abstract double get(int i);

    public abstract void set(int i, double v);

    @Override
    public final Device device() {
        return Device.CPU;
    }

    /** Hands the array to the pool for reuse (the garbage collector takes it otherwise). */
    @Override
    protected final void free() {
        POOL.give(dtype(), size(), array());
    }

    abstract Object array();

    /** The backing array of a FLOAT32 buffer. */
    public float[] floats() {
        throw wrongType(DType.FLOAT32);
    }

    /** The backing array of a FLOAT64 buffer. */
    public double[] doubles() {
        throw wrongType(DType.FLOAT64);
    }

    /** The backing array of an INT32 buffer. */
    public int[] ints() {
        throw wrongType(DType.INT32);
    }

    /** The backing array of a BFLOAT16 buffer: bit patterns ({@link BFloat16}). */
    public short[] shorts() {
        throw wrongType(DType.BFLOAT16);
    }

    private IllegalStateException wrongType(DType wanted) {
        return new IllegalStateException("buffer holds " + dtype() + ", not " + wanted);
    }

    static final class F32 extends CpuBuffer {
        final float[] a;

        F32(float[] a) {
            super(DType.FLOAT32, a.length);
            this.a = a;
        }

        @Override
        public double get(int i) {
            return a[i];
        }

        @Override
        public void set(int i, double v) {
            a[i] = (float) v;
        }

        @Override
        public float[] floats() {
            return a;
        }

        @Override
        Object array() {
            return a;
        }
    }

    static final class F64 extends CpuBuffer {
        final double[] a;

        F64(double[] a) {
            super(DType.FLOAT64, a.length);
            this.a = a;
        }

        @Override
        public double get(int i) {
            return a[i];
        }

        @Override
        public void set(int i, double v) {
            a[i] = v;
        }

        @Override
        public double[] doubles() {
            return a;
        }

        @Override
        Object array() {
            return a;
        }
    }

    static final class I32 extends CpuBuffer {
        final int[] a;

        I32(int[] a) {
            super(DType.INT32, a.length);
            this.a = a;
        }

        @Override
        public double get(int i) {
            return a[i];
        }

        @Override
        public void set(int i, double v) {
            a[i] = (int) v;
        }

        @Override
        public int[] ints() {
            return a;
        }

        @Override
        Object array() {
            return a;
        }
    }

    /** bfloat16 bit patterns; get is exact, set rounds (a double through float32, as PyTorch converts). */
    static final class BF16 extends CpuBuffer {
        final short[] a;

        BF16(short[] a) {
            super(DType.BFLOAT16, a.length);
            this.a = a;
        }

        @Override
        public double get(int i) {
            return BFloat16.toFloat(a[i]);
        }

        @Override
        public void set(int i, double v) {
            a[i] = BFloat16.fromFloat((float) v);
        }

        @Override
        public short[] shorts() {
            return a;
        }

        @Override
        Object array() {
            return a;
        }
    }
}
