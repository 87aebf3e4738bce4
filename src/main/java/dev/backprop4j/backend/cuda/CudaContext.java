package dev.backprop4j.backend.cuda;

import dev.backprop4j.core.Device;
import jcuda.CudaException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.CUuuid;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One CUDA device as the backend uses it: its primary context, one stream, and its caching allocator.
 *
 * <p><b>Context.</b> The device's <em>primary</em> context ({@code cuDevicePrimaryCtxRetain}) is the one the CUDA
 * runtime uses, so cuBLAS (which runs on the runtime) and our driver-API kernels share memory and stream handles
 * without any context juggling. It is retained once and kept for the life of the process. A context is current per
 * thread: every method here that calls CUDA first calls {@link #makeCurrent()}, which costs a thread-local read when
 * this context is already current on the calling thread, so any thread may use the device. All context switching
 * must go through {@link #makeCurrent()} (the thread-local would not see a {@code cuCtxSetCurrent} made elsewhere).
 *
 * <p><b>Stream.</b> All work (kernels, cuBLAS, copies) is queued on one stream per device, so it runs in the order
 * it was issued; that order is what makes the allocator's reuse of freed blocks safe without synchronisation. The
 * stream is created <em>blocking</em> ({@code CU_STREAM_DEFAULT}), not {@code CU_STREAM_NON_BLOCKING}: it then also
 * orders itself with the legacy default stream, on which the synchronous driver calls run
 * ({@code cuMemcpyHtoD}, {@code cuMemcpyDtoH}, {@code cuMemsetD32}...). A synchronous device-to-host copy therefore
 * waits for every kernel queued before it, and a synchronous host-to-device copy into a reused block cannot overtake
 * a queued kernel still reading that block. With a non-blocking stream every copy would have to be an
 * {@code *Async} call on this stream followed by {@link #synchronize()}, and one forgotten synchronous call would be
 * a silent race. Nothing is lost: the backend has a single stream and never overlaps streams.
 *
 * <p>JCuda is confined to this class, {@link CudaBuffer}, {@link CudaBlas} and the kernel module/launchers; errors
 * enable JCuda's exceptions ({@code setExceptionsEnabled(true)}), so every failed driver call throws.
 */
final class CudaContext {

    private static final ConcurrentHashMap<Integer, CudaContext> CONTEXTS = new ConcurrentHashMap<>();
    private static final ThreadLocal<CudaContext> CURRENT = new ThreadLocal<>();
    private static final String OUT_OF_MEMORY = CUresult.stringFor(CUresult.CUDA_ERROR_OUT_OF_MEMORY);
    private static volatile boolean driverReady;
    /** Why the JCuda natives failed to load, kept: later uses of JCudaDriver only say "Could not initialize class". */
    private static LinkageError loadFailure;

    private final int index;
    private final Device device;
    private final CUcontext context;
    private final CUstream stream;
    private final CudaAllocator allocator;

    private CudaContext(int index) {
        initDriver();
        this.index = index;
        this.device = Device.cuda(index);
        try {
            CUdevice dev = new CUdevice();
            JCudaDriver.cuDeviceGet(dev, index);
            context = new CUcontext();
            JCudaDriver.cuDevicePrimaryCtxRetain(context, dev);
            JCudaDriver.cuCtxSetCurrent(context);
            CURRENT.set(this);
            stream = new CUstream();
            JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT);
        } catch (CudaException e) {
            throw new IllegalStateException("CUDA device cuda:" + index + " could not be opened: " + e.getMessage(), e);
        }
        allocator = new CudaAllocator(index, new DriverMemory());
    }

    /** The context of CUDA device {@code index}, created on first use (primary context retained, stream created). */
    public static CudaContext get(int index) {
        CudaContext c = CONTEXTS.get(index);
        return c != null ? c : CONTEXTS.computeIfAbsent(index, CudaContext::new);
    }

    public int index() {
        return index;
    }

    public Device device() {
        return device;
    }

    /** Makes this context current on the calling thread; a thread-local check when it already is. */
    public void makeCurrent() {
        if (CURRENT.get() != this) {
            JCudaDriver.cuCtxSetCurrent(context);
            CURRENT.set(this);
        }
    }

    /** The device's one stream: launch every kernel and cuBLAS call on it. */
    public CUstream stream() {
        return stream;
    }

    /** This device's caching allocator. */
    public CudaAllocator allocator() {
        return allocator;
    }

    /**
     * Waits until everything queued on the stream (and, the stream being blocking, on the legacy default stream
     * before it) has finished; asynchronous kernel errors surface here as a {@link CudaException}.
     */
    public void synchronize() {
        makeCurrent();
        JCudaDriver.cuStreamSynchronize(stream);
    }

    @Override
    public String toString() {
        return "CudaContext[" + device + "]";
    }

    // ---- driver-wide queries (used by CudaProbe) ---------------------------------------------------

    /**
     * Loads the JCuda driver natives, enables exceptions and calls {@code cuInit(0)}; idempotent.
     *
     * @throws LinkageError when the natives (or libcuda.so.1) cannot be loaded; the first such error every time
     * @throws CudaException when cuInit fails, with the CUresult name as message
     */
    static void initDriver() {
        if (!driverReady) {
            synchronized (CudaContext.class) {
                if (!driverReady) {
                    if (loadFailure != null) {
                        throw loadFailure;
                    }
                    try {
                        JCudaDriver.setExceptionsEnabled(true);
                    } catch (LinkageError e) {
                        loadFailure = e;
                        throw e;
                    }
                    JCudaDriver.cuInit(0);
                    driverReady = true;
                }
            }
        }
    }

    /** The CUDA version the driver supports, as 1000 major + 10 minor (13000 for CUDA 13.0). */
    static int driverVersion() {
        int[] v = {0};
        JCudaDriver.cuDriverGetVersion(v);
        return v[0];
    }

    static int deviceCount() {
        int[] n = {0};
        JCudaDriver.cuDeviceGetCount(n);
        return n[0];
    }

    /** For example "NVIDIA H100 80GB HBM3 (compute 9.0, 79.1 GiB)". */
    static String describeDevice(int index) {
        int cc = computeCapability(index);
        long[] bytes = {0};
        JCudaDriver.cuDeviceTotalMem(bytes, device(index));
        return String.format(Locale.ROOT, "%s (compute %d.%d, %.1f GiB)", deviceName(index), cc / 10, cc % 10,
                bytes[0] / (double) (1L << 30));
    }

    static String deviceName(int index) {
        byte[] name = new byte[256];
        JCudaDriver.cuDeviceGetName(name, name.length, device(index));
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        return new String(name, 0, len, StandardCharsets.UTF_8);
    }

    /** The compute capability as 10 major + minor (90 for an H100). */
    static int computeCapability(int index) {
        CUdevice dev = device(index);
        int[] major = {0};
        int[] minor = {0};
        JCudaDriver.cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        JCudaDriver.cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        return 10 * major[0] + minor[0];
    }

    /** The UUID prefix of the CUDA emulator's devices (src/test/native/cuda-emu/driver.cpp). */
    private static final byte[] EMULATOR_UUID = "bp4j-cuda-emu".getBytes(StandardCharsets.US_ASCII);

    /** Whether device {@code index} is the CUDA emulator, a CPU stand-in for tests, rather than a GPU. */
    static boolean isEmulator(int index) {
        CUuuid uuid = new CUuuid();
        JCudaDriver.cuDeviceGetUuid(uuid, device(index));
        return uuid.bytes != null && java.util.Arrays.equals(java.util.Arrays.copyOf(uuid.bytes, EMULATOR_UUID.length),
                EMULATOR_UUID);
    }

    private static CUdevice device(int index) {
        CUdevice dev = new CUdevice();
        JCudaDriver.cuDeviceGet(dev, index);
        return dev;
    }

    /** The kernel driver's version ("580.65.06") from /proc/driver/nvidia/version, or null where unreadable. */
    static String kernelDriverVersion() {
        try {
            String text = Files.readString(Path.of("/proc/driver/nvidia/version"), StandardCharsets.ISO_8859_1);
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\b(\\d{3}\\.\\d+(\\.\\d+)?)\\b").matcher(text);
            return m.find() ? m.group(1) : null;
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    // ---- device memory through the driver -----------------------------------------------------------

    /** {@link DeviceMemory} on {@code cuMemAlloc}/{@code cuMemFree}; makes the context current on each call. */
    private final class DriverMemory implements DeviceMemory {

        @Override
        public long allocate(long bytes) {
            makeCurrent();
            AddressedPointer p = new AddressedPointer();
            try {
                JCudaDriver.cuMemAlloc(p, bytes);
            } catch (CudaException e) {
                if (OUT_OF_MEMORY.equals(e.getMessage())) {
                    return 0;
                }
                throw new IllegalStateException("cuMemAlloc of " + bytes + " bytes on " + device + " failed: "
                        + e.getMessage(), e);
            }
            return p.address();
        }

        @Override
        public void free(long address) {
            makeCurrent();
            JCudaDriver.cuMemFree(CudaBuffer.pointerAt(address));
        }

        @Override
        public long freeBytes() {
            return memInfo()[0];
        }

        @Override
        public long totalBytes() {
            return memInfo()[1];
        }

        private long[] memInfo() {
            makeCurrent();
            long[] free = {0};
            long[] total = {0};
            JCudaDriver.cuMemGetInfo(free, total);
            return new long[] {free[0], total[0]};
        }

        @Override
        public void synchronize() {
            CudaContext.this.synchronize();
        }

        @Override
        public String toString() {
            return device.toString();
        }
    }

    /** A CUdeviceptr whose address can be read back: JCuda keeps it in a protected field. */
    private static final class AddressedPointer extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }
}
