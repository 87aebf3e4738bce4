package dev.backprop4j.backend.cuda;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA emulator (src/test/native/cuda-emu) as tests use it: where the build put it, child JVMs that run on it
 * with chosen device settings, and its counters.
 *
 * <p>The Maven build compiles the emulator where g++ exists (profile cuda-emu) into the folder named by the
 * system property {@code backprop4j.cuda.emu.dir}; the surefire execution cuda-emu runs the tests tagged "gpu"
 * with it on the library path and its counters mapped to {@code CUDA_EMU_COUNTERS}.
 */
public final class CudaEmulator {

    private CudaEmulator() {
    }

    /** The emulator's folder, or null when it was not built. */
    public static Path dir() {
        String d = System.getProperty("backprop4j.cuda.emu.dir");
        if (d == null) {
            return null;
        }
        Path p = Path.of(d);
        return Files.isRegularFile(p.resolve("libcuda.so.1")) && Files.isRegularFile(p.resolve("libcublas.so.13"))
                ? p : null;
    }

    /** Skips the calling test, saying why, where the emulator was not built. */
    public static Path assumeBuilt() {
        Path d = dir();
        assumeTrue(d != null, "CUDA emulator not built (src/test/native/cuda-emu/build.sh needs g++; the Maven "
                + "profile cuda-emu builds it into backprop4j.cuda.emu.dir="
                + System.getProperty("backprop4j.cuda.emu.dir") + ")");
        return d;
    }

    /** What a child process printed (standard output and error together) and its exit code. */
    public record Run(int exitCode, String output) {
    }

    /**
     * Runs {@code main} in a child JVM on the emulator (a JVM loads CUDA once, so each device setting needs its
     * own), with the test classpath, the emulator on the library path and {@code env} (e.g. CUDA_EMU_MEMORY=1G)
     * added to the environment. Needs the cuBLAS shim on the classpath (the cublas12-shim profile builds it).
     */
    public static Run runJava(Map<String, String> env, Class<?> main, String... args) throws IOException,
            InterruptedException {
        return runJava(env, List.of(), main, args);
    }

    /** {@link #runJava(Map, Class, String...)} with these JVM options too (Spark's --add-opens, say). */
    public static Run runJava(Map<String, String> env, List<String> jvmOptions, Class<?> main, String... args)
            throws IOException, InterruptedException {
        Path d = assumeBuilt();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Djava.awt.headless=true"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "-D" + CublasLoader.PATH_PROPERTY + "=" + d,
                main.getName()));
        cmd.addAll(List.of(args));
        return run(cmd, env);
    }

    /** Runs a command with the emulator on the library path and {@code env} added; waits at most two minutes. */
    public static Run run(List<String> cmd, Map<String, String> env) throws IOException, InterruptedException {
        Path d = assumeBuilt();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LD_LIBRARY_PATH", d.toString());
        pb.environment().remove("CUDA_EMU_COUNTERS"); // a child must not reset the counters of the JVM running it
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child process did not finish: " + cmd);
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /**
     * The emulator's counters as they stand, read from the file {@code CUDA_EMU_COUNTERS} names (the emulator of
     * this JVM writes them there); null when this JVM does not run on the emulator.
     */
    public static Counters counters() {
        String path = System.getenv("CUDA_EMU_COUNTERS");
        if (path == null || !Cuda.isAvailable() || !Cuda.isEmulated()) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(Path.of(path), StandardOpenOption.READ)) {
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, 8 * 16);
            LongBuffer slots = map.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            if (slots.get(0) != 0x31756d656a347062L) {
                throw new IllegalStateException(path + " does not hold the emulator's counters");
            }
            return new Counters(slots.get(1), slots.get(2), slots.get(3), slots.get(4), slots.get(5), slots.get(6),
                    slots.get(7), slots.get(8), slots.get(9), slots.get(10), slots.get(11));
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the emulator's counters from " + path, e);
        }
    }

    /**
     * Counts of driver and cuBLAS work since the emulator started (the order of emu_runtime.h's Counter).
     *
     * @param launches         cuLaunchKernel calls
     * @param cublasCalls      GEMMs (and other cuBLAS work) submitted
     * @param copiesToDevice   host-to-device copies
     * @param copiesToHost     device-to-host copies
     * @param copiesOnDevice   device-to-device copies
     * @param memsets          cuMemsetD32(Async) calls
     * @param hostWaits        calls that make the host wait for the device (synchronisations, synchronous copies)
     * @param allocations      cuMemAlloc calls
     * @param frees            cuMemFree calls
     * @param graphLaunches    cuGraphLaunch calls
     * @param graphKernels     kernels run by graph launches
     */
    public record Counters(long launches, long cublasCalls, long copiesToDevice, long copiesToHost, long copiesOnDevice,
                    long memsets, long hostWaits, long allocations, long frees, long graphLaunches,
                    long graphKernels) {

        /** This minus an earlier snapshot. */
        public Counters minus(Counters before) {
            return new Counters(launches - before.launches, cublasCalls - before.cublasCalls,
                    copiesToDevice - before.copiesToDevice, copiesToHost - before.copiesToHost,
                    copiesOnDevice - before.copiesOnDevice, memsets - before.memsets, hostWaits - before.hostWaits,
                    allocations - before.allocations, frees - before.frees, graphLaunches - before.graphLaunches,
                    graphKernels - before.graphKernels);
        }
    }
}
