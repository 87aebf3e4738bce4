package dev.backprop4j.backend.conformance;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.backend.cpu.CpuBackend;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Distribution;

import java.util.Locale;

/**
 * The machinery of the checks ({@link Conformance}): runs a computation on the reference and on the backend under test from the
 * same inputs (drawn on the CPU from the same seeds and copied over) and compares every output, with the
 * tolerances Conformance states; a mismatch names the computation, the size, the element and both values.
 */
abstract class ParityHarness {

    /** Sizes every check runs at. */
    static final int[] SIZES = {1, 7, 1023, 1025};

    final Backend cpu = CpuBackend.reference();
    final Backend device;
    long seed = 1;

    ParityHarness(Backend device) {
        this.device = device;
    }

    // ---- the checks ---------------------------------------------------------------------------------------------

    /** One computation from inputs made by {@link #in}: what the backend returns, compared on both backends. */
    @FunctionalInterface
    interface Computation {
        Buffer[] on(Backend b);
    }

    @FunctionalInterface
    interface SizedCheck {
        void at(DType t, int n);
    }


    /** The check of {@code c} in dtype t at every size of {@link #SIZES}, run when asked. */
    ParityCheck check(String name, DType t, SizedCheck c) {
        return new ParityCheck(name + " " + t.toString().toLowerCase(Locale.ROOT), () -> {
            for (int n : SIZES) {
                c.at(t, n);
            }
        });
    }

    /**
     * Runs {@code c} on the CPU and on the device with the same inputs (the same seeds make the same random
     * inputs: {@link #in} draws them on the CPU and copies them over) and compares every output.
     */
    void compare(String what, int n, Computation c) {
        compare(what, n, 64 * 0x1p-24, c);
    }

    /** {@link #compare(String, int, Computation)} with float32 outputs held to {@code relative} of the scale. */
    void compare(String what, int n, double relative, Computation c) {
        compare(what, n, relative, 0, c);
    }

    /**
     * {@link #compare(String, int, Computation)} for computations that round a float32 result to bfloat16 (an
     * epilogue's activation): float results a few ulps apart may round either way, so bfloat16 outputs may differ by
     * one bfloat16 step; elsewhere bfloat16 outputs come from casts, which round alike everywhere, and must be equal.
     */
    void compareRounded(String what, int n, Computation c) {
        compare(what, n, 64 * 0x1p-24, 0x1p-7, c);
    }

    private void compare(String what, int n, double relative, double bf16Step, Computation c) {
        long start = seed;
        Buffer[] expected = c.on(cpu);
        seed = start;
        Buffer[] actual = c.on(device);
        for (int k = 0; k < expected.length; k++) {
            compare(what + " n=" + n + (expected.length > 1 ? " output " + k : ""), expected[k], actual[k], relative,
                    bf16Step);
        }
        release(expected);
        release(actual);
    }

    void compare(String what, Buffer expected, Buffer actual) {
        compare(what, expected, actual, 64 * 0x1p-24, 0);
    }

    private void compare(String what, Buffer expected, Buffer actual, double relative, double bf16Step) {
        double[] e = cpu.readDoubles(expected);
        double[] a = device.readDoubles(actual);
        if (e.length != a.length) {
            throw new ParityCheck.Mismatch(what + ": " + e.length + " elements on the cpu, " + a.length + " on " + device.device());
        }
        double scale = 0;
        for (double v : e) {
            scale = Double.isFinite(v) ? Math.max(scale, Math.abs(v)) : scale;
        }
        for (int i = 0; i < e.length; i++) {
            double tol = switch (expected.dtype()) {
                case FLOAT64 -> 1e-9 * (Math.abs(e[i]) + scale);
                case FLOAT32 -> relative * (Math.abs(e[i]) + scale);
                case INT32 -> 0;
                case BFLOAT16 -> bf16Step == 0 ? 0 : bf16Step * Math.abs(e[i]) + relative * scale;
            };
            boolean same = Double.isNaN(e[i]) ? Double.isNaN(a[i]) : Math.abs(e[i] - a[i]) <= tol || e[i] == a[i];
            if (!same) {
                throw new ParityCheck.Mismatch(String.format(Locale.ROOT, "%s element %d: cpu %s, %s %s", what, i, e[i],
                        device.device(), a[i]));
            }
        }
    }

    // ---- inputs -------------------------------------------------------------------------------------------------

    /** n standard-normal values, drawn on the CPU with the next seed and copied to b. */
    Buffer in(Backend b, DType t, long n) {
        return uniformOrNormal(b, t, n, Distribution.NORMAL, 0, 1);
    }

    /** n values uniform on [lo, hi). */
    Buffer in(Backend b, DType t, long n, double lo, double hi) {
        return uniformOrNormal(b, t, n, Distribution.UNIFORM, lo, hi);
    }

    Buffer uniformOrNormal(Backend b, DType t, long n, Distribution d, double p1, double p2) {
        Buffer c = cpu.allocate(t, n);
        cpu.random(c, d, p1, p2, seed++, 0);
        return b == cpu ? c : moved(c);
    }

    /** n int32 labels in [0, classes), the same on both backends. */
    Buffer labels(Backend b, int n, int classes) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = (int) ((i * 7L + seed) % classes);
        }
        Buffer x = b.allocate(DType.INT32, n);
        b.write(x, v);
        return x;
    }

    Buffer fill(Backend b, DType t, long n, double value) {
        Buffer x = b.allocate(t, n);
        b.fill(x, value);
        return x;
    }

    Buffer moved(Buffer c) {
        Buffer d = toDevice(c);
        c.release();
        return d;
    }

    Buffer toDevice(Buffer c) {
        Buffer d = device.allocate(c.dtype(), c.length());
        switch (c.dtype()) {
            case FLOAT32 -> device.write(d, cpu.readFloats(c));
            case FLOAT64 -> device.write(d, cpu.readDoubles(c));
            case INT32 -> device.write(d, cpu.readInts(c));
            case BFLOAT16 -> device.write(d, cpu.readBf16(c));
        }
        return d;
    }

    static Buffer[] out(Buffer... outputs) {
        return outputs;
    }

    static void release(Buffer... buffers) {
        for (Buffer b : buffers) {
            if (b != null) {
                b.release();
            }
        }
    }

    Buffer values(Backend b, DType t, long n) {
        return t == DType.INT32 ? labels(b, (int) n, 97) : in(b, t, n);
    }

    /** Inputs in each op's domain: positive for log, sqrt, pow and 1/x. */
    Buffer domainInput(Backend b, DType t, UnaryOp op, int n) {
        return switch (op) {
            case LOG, SQRT, POW, RDIV_SCALAR -> in(b, t, n, 0.25, 4);
            default -> in(b, t, n, -4, 4);
        };
    }

    static double p1(UnaryOp op) {
        return switch (op) {
            case POW -> 2.5;
            case CLAMP -> -0.5;
            case LEAKY_RELU -> 0.1;
            default -> 0.75;
        };
    }
}
