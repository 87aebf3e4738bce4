package dev.backprop4j.backend.conformance;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.BinaryOp;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.ReduceOp;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.core.Shape;

import java.util.ArrayList;
import java.util.List;

/** The checks of the primitives outside a training step's fused ones, each in every dtype it takes. */
final class PrimitiveParity extends ParityHarness {

    PrimitiveParity(Backend device) {
        super(device);
    }

    List<ParityCheck> all() {
        List<ParityCheck> out = new ArrayList<>();
        out.add(check("write and read", DType.INT32, this::transfer));
        out.add(check("copy", DType.INT32, this::copy));
        out.add(check("cast", DType.INT32, this::cast));
        out.add(check("countEqual", DType.INT32, this::countEqual));
        for (DType t : List.of(DType.FLOAT32, DType.FLOAT64, DType.BFLOAT16)) { // bfloat16: storage and the GEMM
            out.add(check("write and read", t, this::transfer));
            out.add(check("fill", t, (u, n) -> compare("fill", n, b -> out(fill(b, u, n, 0.1)))));
            out.add(check("copy", t, this::copy));
            out.add(check("cast", t, this::cast));
            out.add(check("narrow", t, this::narrow));
            out.add(check("broadcast", t, this::broadcast));
            out.add(check("transpose", t, this::transpose));
            out.add(check("gemm", t, this::gemm));
            if (!t.isArithmetic()) {
                continue;
            }
            out.add(check("unary", t, this::unary));
            out.add(check("unaryBackward", t, this::unaryBackward));
            out.add(check("binary", t, this::binary));
            out.add(check("reduce", t, this::reduce));
            out.add(check("argmax", t, this::argmax));
            out.add(check("softmax", t, this::softmax));
            out.add(check("softmaxBackward", t, this::softmaxBackward));
            out.add(check("gatherRows", t, this::gatherRows));
            out.add(check("scatterRows", t, this::scatterRows));
            out.add(check("embedding", t, this::embedding));
            out.add(check("random", t, this::random));
        }
        return out;
    }

    // ---- one method per primitive, in dtype t at size n ------------------------------------------------------------

    private void transfer(DType t, int n) {
        compare("write and read", n, b -> out(t == DType.INT32 ? labels(b, n, 1000) : in(b, t, n)));
    }

    private void copy(DType t, int n) {
        compare("copy", n, b -> {
            Buffer src = values(b, t, n + 1);
            Buffer dst = fill(b, t, n + 2, 0);
            b.copy(src, 1, dst, 0, n);
            b.copy(dst, 0, dst, 1, n); // overlapping, as System.arraycopy allows
            release(src);
            return out(dst);
        });
    }

    private void cast(DType t, int n) {
        for (DType to : DType.values()) {
            compare("cast to " + to, n, b -> {
                Buffer x = t == DType.INT32 ? labels(b, n, 100_003) : in(b, t, n, -1e3, 1e3);
                Buffer y = b.allocate(to, n);
                b.cast(x, y);
                release(x);
                return out(y);
            });
        }
    }

    private void countEqual(DType t, int n) {
        Buffer[] cpuIn = {labels(cpu, n, 3), labels(cpu, n, 2)};
        long expected = cpu.countEqual(cpuIn[0], cpuIn[1], n);
        Buffer a = toDevice(cpuIn[0]);
        Buffer b = toDevice(cpuIn[1]);
        long actual = device.countEqual(a, b, n);
        release(cpuIn[0], cpuIn[1], a, b);
        if (expected != actual) {
            throw new ParityCheck.Mismatch("n=" + n + ": cpu " + expected + ", " + device.device() + " " + actual);
        }
    }

    private void narrow(DType t, int n) {
        compare("narrow", n, b -> {
            Buffer src = in(b, t, 2L * n * 3);
            int start = n / 3;
            int len = n - start;
            Buffer dst = fill(b, t, 2L * (len + 2) * 3, 0);
            b.narrow(src, 2, n, 3, start, dst, len + 2, 1, len);
            release(src);
            return out(dst);
        });
    }

    private void broadcast(DType t, int n) {
        compare("broadcast column", n, b -> {
            Buffer x = in(b, t, n);
            Buffer y = b.allocate(t, 4L * n);
            b.broadcast(x, Shape.of(n, 1), y, Shape.of(n, 4));
            release(x);
            return out(y);
        });
        compare("broadcast row", n, b -> {
            Buffer x = in(b, t, n);
            Buffer y = b.allocate(t, 3L * n);
            b.broadcast(x, Shape.of(n), y, Shape.of(3, n));
            release(x);
            return out(y);
        });
    }

    private void transpose(DType t, int n) {
        compare("transpose", n, b -> {
            Buffer x = in(b, t, 2L * n * 5);
            Buffer y = b.allocate(t, 2L * n * 5);
            b.transpose(x, 2, n, 5, y);
            release(x);
            return out(y);
        });
    }

    private void unary(DType t, int n) {
        for (UnaryOp op : UnaryOp.values()) {
            compare(op.toString(), n, b -> {
                Buffer x = domainInput(b, t, op, n);
                Buffer y = b.allocate(t, n);
                b.unary(op, x, y, p1(op), 0.5);
                release(x);
                return out(y);
            });
        }
    }

    private void unaryBackward(DType t, int n) {
        for (UnaryOp op : UnaryOp.values()) {
            compare(op.toString(), n, b -> {
                Buffer x = domainInput(b, t, op, n);
                Buffer y = b.allocate(t, n);
                b.unary(op, x, y, p1(op), 0.5);
                Buffer dy = in(b, t, n);
                Buffer dx = b.allocate(t, n);
                b.unaryBackward(op, x, y, dy, dx, p1(op), 0.5);
                release(x, y, dy);
                return out(dx);
            });
        }
    }

    private void binary(DType t, int n) {
        for (BinaryOp op : BinaryOp.values()) {
            compare(op + " same shape", n, b -> binary(b, t, op, Shape.of(n), Shape.of(n), Shape.of(n)));
            compare(op + " row", n, b -> binary(b, t, op, Shape.of(3, n), Shape.of(n), Shape.of(3, n)));
            compare(op + " broadcast", n, b -> binary(b, t, op, Shape.of(n, 1), Shape.of(1, 5), Shape.of(n, 5)));
        }
    }

    private Buffer[] binary(Backend b, DType t, BinaryOp op, Shape as, Shape bs, Shape os) {
        Buffer x = in(b, t, as.size(), 0.5, 2);
        Buffer y = in(b, t, bs.size(), 0.5, 2);
        if (op == BinaryOp.EQ) { // equal in some places: y's first element copied into x's
            b.copy(y, 0, x, 0, 1);
        }
        Buffer z = b.allocate(t, os.size());
        b.binary(op, x, as, y, bs, z, os);
        release(x, y);
        return out(z);
    }

    /** In dtype t; bfloat16 is the mixed-precision GEMM: bfloat16 A and B, float32 C. */
    private void gemm(DType t, int n) {
        DType ct = t == DType.BFLOAT16 ? DType.FLOAT32 : t;
        for (int flags = 0; flags < 4; flags++) {
            boolean ta = (flags & 1) != 0, tb = (flags & 2) != 0;
            compare("C = 1.5 op(A) op(B) + 0.5 C" + (ta ? ", A^T" : "") + (tb ? ", B^T" : ""), n, b -> {
                Buffer a = in(b, t, (long) n * 7);
                Buffer w = in(b, t, 7L * 5);
                Buffer c = in(b, ct, (long) n * 5);
                b.gemm(ta, tb, 1, n, 5, 7, 1.5, a, 0, w, 0, 0.5, c, 0, false);
                release(a, w);
                return out(c);
            });
        }
        if (t == DType.FLOAT32) { // cuBLAS's TF32 math need not round as the CPU does (nor use tensor cores at all)
            compare("TF32 inputs, batched", n, 9 * 0x1p-10, b -> {
                Buffer a = in(b, t, 2L * n * 9);
                Buffer w = in(b, t, 2L * 9 * 5);
                Buffer c = b.allocate(t, 2L * n * 5);
                b.gemm(false, true, 2, n, 5, 9, 1.0, a, (long) n * 9, w, 45, 0.0, c, (long) n * 5, true);
                release(a, w);
                return out(c);
            });
        }
        compare("batched, B shared", n, b -> {
            Buffer a = in(b, t, 3L * n * 4);
            Buffer w = in(b, t, 4L * 6);
            Buffer c = b.allocate(ct, 3L * n * 6);
            b.gemm(false, false, 3, n, 6, 4, 1.0, a, (long) n * 4, w, 0, 0.0, c, (long) n * 6, false);
            release(a, w);
            return out(c);
        });
    }

    private void reduce(DType t, int n) {
        for (ReduceOp op : ReduceOp.values()) {
            compare(op + " last axis", n, b -> reduce(b, t, op, 3, n, 1));
            compare(op + " middle axis", n, b -> reduce(b, t, op, 2, n, 5));
            if (n == ParityHarness.SIZES[ParityHarness.SIZES.length - 1]) { // long axes, split over many blocks on a GPU
                compare(op + " one long row", 300_000, b -> reduce(b, t, op, 1, 300_000, 1));
                compare(op + " long columns", 50_000, b -> reduce(b, t, op, 1, 50_000, 3));
            }
        }
    }

    private Buffer[] reduce(Backend b, DType t, ReduceOp op, int outer, int n, int inner) {
        Buffer x = in(b, t, (long) outer * n * inner);
        Buffer y = b.allocate(t, (long) outer * inner);
        b.reduce(op, x, outer, n, inner, y);
        release(x);
        return out(y);
    }

    private void argmax(DType t, int n) {
        compare("last axis", n, b -> {
            Buffer x = in(b, t, 3L * n);
            Buffer y = b.allocate(DType.INT32, 3);
            b.argmax(x, 3, n, 1, y);
            release(x);
            return out(y);
        });
        compare("first axis", n, b -> {
            Buffer x = in(b, t, 4L * n);
            Buffer y = b.allocate(DType.INT32, 4);
            b.argmax(x, 1, n, 4, y);
            release(x);
            return out(y);
        });
    }

    private void softmax(DType t, int n) {
        for (boolean log : new boolean[] {false, true}) {
            String name = log ? "log_softmax" : "softmax";
            compare(name + " last axis", n, b -> softmax(b, t, 3, n, 1, log, false));
            compare(name + " middle axis", n, b -> softmax(b, t, 2, n, 3, log, false));
        }
    }

    private void softmaxBackward(DType t, int n) {
        for (boolean log : new boolean[] {false, true}) {
            String name = log ? "log_softmax" : "softmax";
            compare(name + " last axis", n, b -> softmax(b, t, 3, n, 1, log, true));
            compare(name + " middle axis", n, b -> softmax(b, t, 2, n, 3, log, true));
        }
    }

    private Buffer[] softmax(Backend b, DType t, int outer, int n, int inner, boolean log, boolean backward) {
        long size = (long) outer * n * inner;
        Buffer x = in(b, t, size);
        Buffer y = b.allocate(t, size);
        b.softmax(x, outer, n, inner, log, y);
        release(x);
        if (!backward) {
            return out(y);
        }
        Buffer dy = in(b, t, size);
        Buffer dx = b.allocate(t, size);
        b.softmaxBackward(y, dy, outer, n, inner, log, dx);
        release(y, dy);
        return out(dx);
    }

    private void gatherRows(DType t, int n) {
        compare("gather", n, b -> {
            Buffer x = in(b, t, n * 6L);
            Buffer idx = labels(b, n, 6);
            Buffer y = b.allocate(t, n);
            b.gatherRows(x, idx, n, 6, y);
            release(x, idx);
            return out(y);
        });
    }

    private void scatterRows(DType t, int n) {
        compare("scatter-add", n, b -> {
            Buffer dy = in(b, t, n);
            Buffer idx = labels(b, n, 6);
            Buffer dx = in(b, t, n * 6L);
            b.scatterRows(dy, idx, n, 6, dx);
            release(dy, idx);
            return out(dx);
        });
    }

    /**
     * A table of 7 rows of 5: the lookup, and the backward with every row's gradient added in index order (bit for bit
     * the same in float64: one add at a time, in the same order).
     */
    private void embedding(DType t, int n) {
        compare("lookup and backward", n, b -> {
            Buffer table = in(b, t, 35);
            Buffer idx = labels(b, n, 7);
            Buffer y = b.allocate(t, n * 5L);
            b.embedding(table, idx, n, 7, 5, y);
            Buffer dy = in(b, t, n * 5L);
            Buffer dtable = b.allocate(t, 35);
            b.embeddingBackward(dy, idx, n, 7, 5, dtable);
            release(table, idx, dy);
            return out(y, dtable);
        });
    }

    private void random(DType t, int n) {
        for (Distribution d : Distribution.values()) {
            compare(d.toString(), n, b -> {
                Buffer x = b.allocate(t, n);
                b.random(x, d, 0.3, 1.5, 42, 3);
                return out(x);
            });
        }
    }
}
