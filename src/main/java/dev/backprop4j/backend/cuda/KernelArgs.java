package dev.backprop4j.backend.cuda;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameter list of one kernel launch, built in the order of the kernel's C signature with one typed
 * method per C type: {@link #ptr} for {@code T*}, {@link #i32} for {@code int}, {@link #i64} for {@code long long},
 * {@link #f64} for {@code double}, {@link #struct} for a by-value struct of 64-bit fields. Keeps the types, which
 * {@link KernelModule#launch} checks against the kernel's PTX declaration, and the values, which a failed launch
 * prints.
 */
final class KernelArgs {
    private final List<Pointer> params = new ArrayList<>();
    private final List<String> shown = new ArrayList<>();
    private final List<String> types = new ArrayList<>();

    /** A device pointer; null passes NULL (for kernels that accept an absent buffer). */
    KernelArgs ptr(CUdeviceptr p) {
        CUdeviceptr v = p == null ? new CUdeviceptr() : p;
        params.add(Pointer.to((NativePointerObject) v));
        shown.add(p == null ? "null" : "ptr");
        types.add("u64");
        return this;
    }

    KernelArgs i32(int v) {
        params.add(Pointer.to(new int[] {v}));
        shown.add(Integer.toString(v));
        types.add("u32");
        return this;
    }

    KernelArgs i64(long v) {
        params.add(Pointer.to(new long[] {v}));
        shown.add(Long.toString(v));
        types.add("u64");
        return this;
    }

    KernelArgs f64(double v) {
        params.add(Pointer.to(new double[] {v}));
        shown.add(Double.toString(v));
        types.add("f64");
        return this;
    }

    /** A struct passed by value whose fields are consecutive 64-bit integers. */
    KernelArgs struct(long[] fields) {
        params.add(Pointer.to(fields.clone()));
        shown.add(java.util.Arrays.toString(fields));
        types.add("b8[" + 8 * fields.length + "]");
        return this;
    }

    /** The kernelParams array for cuLaunchKernel. */
    Pointer pointer() {
        return Pointer.to(params.toArray(new Pointer[0]));
    }

    /** The parameters' types as PTX declares them ({@link PtxEntries}): u64, u32, f64, b8[bytes]. */
    List<String> ptxTypes() {
        return types;
    }

    /** The values as passed, device pointers shown as "ptr" or "null". */
    List<String> values() {
        return shown;
    }

    @Override
    public String toString() {
        return shown.toString();
    }
}
