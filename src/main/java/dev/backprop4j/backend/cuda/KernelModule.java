package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.DType;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One PTX module of kernels/ptx, loaded from the classpath resource
 * {@code /dev/backprop4j/backend/cuda/ptx/<name>.ptx} with {@code cuModuleLoadDataEx} into the current CUDA
 * context, with each of its kernels looked up once. Also the launch path shared by the typed launchers: grid
 * math helpers and {@link #launch}, which checks every launch against the kernel's parameter list and thread
 * limit as the PTX declares them ({@link PtxEntries}) and turns a failed launch into an exception naming the
 * kernel, the grid and the arguments.
 *
 * <p>A module belongs to the context that was current when it was loaded; the caller makes that context
 * current before every launch and {@link #close}.
 */
final class KernelModule implements AutoCloseable {

    /** Classpath folder of the PTX files (the pom maps kernels/ptx there). */
    static final String RESOURCE_DIR = "/dev/backprop4j/backend/cuda/ptx/";

    /** Threads per block of the elementwise (grid-stride) kernels. */
    static final int THREADS = 256;

    /** Upper bound on gridDim.x; kernels loop past it. */
    static final int MAX_GRID_X = 1 << 16;

    /** Upper bound on gridDim.y and gridDim.z. */
    static final int MAX_GRID_YZ = 65535;

    /** What an offline module does instead of launching (tests: every launcher runs without a GPU). */
    record Launch(Kernel kernel, int[] grid, int[] block, KernelArgs args) {
    }

    /**
     * A kernel of a module: its driver handle (null in an offline module), its PTX declaration, and where an
     * offline module sends its launches (null when loaded into a context).
     */
    record Kernel(String name, CUfunction function, PtxEntries.Entry entry, Consumer<Launch> offline) {
    }

    private final String name;
    private final Map<String, Kernel> kernels;
    private CUmodule module;

    private KernelModule(String name, CUmodule module, Map<String, Kernel> kernels) {
        this.name = name;
        this.module = module;
        this.kernels = kernels;
    }

    /**
     * Loads kernels/ptx/{@code name}.ptx into the current context and looks up each of {@code kernelNames}.
     *
     * @throws IllegalStateException when the resource is missing or the driver refuses the PTX or a kernel
     */
    static KernelModule load(String name, List<String> kernelNames) {
        byte[] ptx = readResource(name);
        Map<String, PtxEntries.Entry> declared = declared(name, ptx, kernelNames);
        CUmodule module = new CUmodule();
        byte[] image = new byte[ptx.length + 1]; // the driver reads a NUL-terminated string
        System.arraycopy(ptx, 0, image, 0, ptx.length);
        check(() -> JCudaDriver.cuModuleLoadDataEx(module, Pointer.to(image), 0, new int[0], Pointer.to(new int[0])),
                () -> "loading PTX module " + name + ".ptx (" + ptxVersion(ptx) + "; a driver too old for this PTX ISA"
                        + " version refuses it: rebuild with an older nvcc or update the driver)");
        Map<String, Kernel> found = new LinkedHashMap<>();
        try {
            for (String k : kernelNames) {
                CUfunction f = new CUfunction();
                check(() -> JCudaDriver.cuModuleGetFunction(f, module, k),
                        () -> "looking up kernel " + k + " in " + name + ".ptx");
                found.put(k, new Kernel(k, f, declared.get(k), null));
            }
        } catch (RuntimeException e) {
            JCudaDriver.cuModuleUnload(module);
            throw e;
        }
        return new KernelModule(name, module, Collections.unmodifiableMap(found));
    }

    /**
     * A module that loads nothing and launches nothing: each launch is checked as usual and then handed to
     * {@code sink}. Needs no GPU and no JCuda natives; for tests of the launchers.
     */
    static KernelModule offline(String name, byte[] ptx, List<String> kernelNames, Consumer<Launch> sink) {
        Map<String, PtxEntries.Entry> declared = declared(name, ptx, kernelNames);
        Map<String, Kernel> found = new LinkedHashMap<>();
        for (String k : kernelNames) {
            found.put(k, new Kernel(k, null, declared.get(k), sink));
        }
        return new KernelModule(name, null, Collections.unmodifiableMap(found));
    }

    private static Map<String, PtxEntries.Entry> declared(String name, byte[] ptx, List<String> kernelNames) {
        Map<String, PtxEntries.Entry> entries = PtxEntries.parse(new String(ptx, StandardCharsets.US_ASCII));
        for (String k : kernelNames) {
            if (!entries.containsKey(k)) {
                throw new IllegalStateException("kernel " + k + " is not an entry of " + name + ".ptx (entries: "
                        + entries.keySet() + "); regenerate it with kernels/build-ptx.sh");
            }
        }
        return entries;
    }

    /** The kernel {@code name}, which must be among the names this module was loaded with. */
    Kernel kernel(String kernelName) {
        Kernel k = kernels.get(kernelName);
        if (k == null) {
            throw new IllegalStateException("kernel " + kernelName + " was not loaded from " + name + ".ptx");
        }
        return k;
    }

    /** The kernels {@code base_f32}, {@code base_f64} (and {@code base_i32} when loaded), indexed by DType ordinal. */
    Kernel[] family(String base) {
        Kernel[] byType = new Kernel[DType.values().length];
        for (DType t : DType.values()) {
            byType[t.ordinal()] = kernels.get(base + "_" + suffix(t));
        }
        return byType;
    }

    /** The member of a {@link #family} for {@code dtype}, or a failure naming the op and the dtype. */
    static Kernel pick(Kernel[] family, DType dtype, String op) {
        Kernel k = family[dtype.ordinal()];
        if (k == null) {
            throw new IllegalArgumentException(op + ": no CUDA kernel for dtype " + dtype);
        }
        return k;
    }

    /** The kernel-name suffix of a dtype: f32, f64, i32, bf16. */
    static String suffix(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "f32";
            case FLOAT64 -> "f64";
            case INT32 -> "i32";
            case BFLOAT16 -> "bf16";
        };
    }

    /** {@code base_<suffix>} for each dtype, the way the .cu files name their entry points. */
    static List<String> names(List<DType> types, String... bases) {
        List<String> out = new ArrayList<>();
        for (String b : bases) {
            for (DType t : types) {
                out.add(b + "_" + suffix(t));
            }
        }
        return out;
    }

    static final List<DType> FLOATS = List.of(DType.FLOAT32, DType.FLOAT64);
    static final List<DType> ALL_TYPES = List.of(DType.FLOAT32, DType.FLOAT64, DType.INT32);
    /** Every dtype a buffer can hold: the layout kernels (fill, casts, copies) take bfloat16 too. */
    static final List<DType> STORAGE_TYPES = List.of(DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.BFLOAT16);

    // ---- grid math ------------------------------------------------------------------------------------------

    /** Blocks for a grid-stride loop over n items with {@code threads} per block: ceil(n / threads), capped. */
    static int blocks(long n, int threads) {
        return (int) Math.max(1, Math.min((n + threads - 1) / threads, MAX_GRID_X));
    }

    /** Threads for one block per row of n elements: about 4 elements per thread, a power of two in [32, 1024]. */
    static int rowThreads(long n) {
        long want = Math.max(32, Math.min(1024, (n + 3) / 4));
        return Integer.highestOneBit((int) (want * 2 - 1));
    }

    static int capX(long n) {
        return (int) Math.max(1, Math.min(n, MAX_GRID_X));
    }

    static int capYZ(long n) {
        return (int) Math.max(1, Math.min(n, MAX_GRID_YZ));
    }

    static void requireNonNegative(String op, long... sizes) {
        for (long s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException(op + ": negative size in " + java.util.Arrays.toString(sizes));
            }
        }
    }

    // ---- launch ---------------------------------------------------------------------------------------------

    /**
     * Launches {@code k} on {@code stream} (null: the default stream) after checking the arguments against the
     * kernel's PTX parameter list and the block against its thread limit; fails naming the kernel, grid and args.
     */
    static void launch(Kernel k, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                       CUstream stream, KernelArgs args) {
        List<String> passed = args.ptxTypes();
        if (!passed.equals(k.entry().params())) {
            throw new IllegalStateException("kernel " + k.name() + " takes " + k.entry().params() + " but was passed "
                    + passed + " " + args);
        }
        long threads = (long) bx * by * bz;
        if (bx < 1 || by < 1 || bz < 1 || threads > k.entry().maxThreads() || gx < 1 || gy < 1 || gz < 1
                || gy > MAX_GRID_YZ || gz > MAX_GRID_YZ) {
            throw new IllegalStateException("kernel " + k.name() + ": grid [" + gx + ", " + gy + ", " + gz
                    + "] with block [" + bx + ", " + by + ", " + bz + "] is outside its limits (at most "
                    + k.entry().maxThreads() + " threads per block)");
        }
        if (k.offline() != null) {
            k.offline().accept(new Launch(k, new int[] {gx, gy, gz}, new int[] {bx, by, bz}, args));
            return;
        }
        check(() -> JCudaDriver.cuLaunchKernel(k.function(), gx, gy, gz, bx, by, bz, sharedBytes, stream,
                        args.pointer(), null),
                () -> "launching kernel " + k.name() + " (grid [" + gx + ", " + gy + ", " + gz + "], block ["
                        + bx + ", " + by + ", " + bz + "], args " + args + ")");
    }

    /** Sets {@code words} 32-bit words at ptr to 0 on the stream before a launch of k (offline: does nothing). */
    static void clearWords(Kernel k, CUdeviceptr ptr, long words, CUstream stream) {
        if (k.offline() == null) {
            check(() -> JCudaDriver.cuMemsetD32Async(ptr, 0, words, stream), () -> "clearing the output of " + k.name());
        }
    }

    /** A 1-D launch of {@code threads} per block. */
    static void launch1d(Kernel k, int blocks, int threads, CUstream stream, KernelArgs args) {
        launch(k, blocks, 1, 1, threads, 1, 1, 0, stream, args);
    }

    @FunctionalInterface
    interface Call {
        int run();
    }

    /** Runs a driver call; a non-success code (or a JCuda exception, when enabled) becomes one error naming what. */
    static void check(Call call, java.util.function.Supplier<String> what) {
        int result;
        try {
            result = call.run();
        } catch (CudaException e) {
            throw new IllegalStateException("CUDA error " + what.get() + ": " + e.getMessage(), e);
        }
        if (result != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("CUDA error " + what.get() + ": " + CUresult.stringFor(result));
        }
    }

    private static byte[] readResource(String name) {
        String path = RESOURCE_DIR + name + ".ptx";
        try (InputStream in = KernelModule.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("PTX resource " + path + " is missing from the classpath"
                        + " (kernels/ptx/" + name + ".ptx; regenerate it with kernels/build-ptx.sh)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read PTX resource " + path + ": " + e.getMessage(), e);
        }
    }

    private static final Pattern VERSION = Pattern.compile("^\\.version\\s+(\\S+)", Pattern.MULTILINE);
    private static final Pattern TARGET = Pattern.compile("^\\.target\\s+(\\S+)", Pattern.MULTILINE);

    private static String ptxVersion(byte[] ptx) {
        String text = new String(ptx, 0, Math.min(ptx.length, 4096), StandardCharsets.US_ASCII);
        Matcher v = VERSION.matcher(text);
        Matcher t = TARGET.matcher(text);
        return "PTX ISA " + (v.find() ? v.group(1) : "?") + ", target " + (t.find() ? t.group(1) : "?");
    }

    /** Unloads the module (idempotent); the context it was loaded into must be current. */
    @Override
    public void close() {
        if (module != null) {
            CUmodule m = module;
            module = null;
            check(() -> JCudaDriver.cuModuleUnload(m), () -> "unloading PTX module " + name + ".ptx");
        }
    }
}
