package dev.backprop4j.cli;

import dev.backprop4j.backend.Backend;
import dev.backprop4j.backend.Buffer;
import dev.backprop4j.backend.UnaryOp;
import dev.backprop4j.backend.conformance.Conformance;
import dev.backprop4j.backend.conformance.ParityResult;
import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.core.DType;
import dev.backprop4j.core.Device;
import dev.backprop4j.core.Distribution;
import dev.backprop4j.tensor.Backends;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code doctor}: what a user whose GPU setup fails (or who suspects it) runs first, from the jar alone. One line per
 * finding, PASS, FAIL or INFO: the Java runtime, whether the Vector API is on, the CPU, the CUDA probe (driver,
 * device, compute capability, memory, which cuBLAS and whether through the shim), then, for a CUDA device, every
 * backend primitive checked against the CPU ({@link Conformance}) and a short benchmark. Exit code 1 when any line
 * is FAIL.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Check this machine: Java, the Vector API, the CPU, CUDA, and every backend primitive on the "
                + "GPU against the CPU.", "Exit code 1 when a check fails."})
final class DoctorCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--device", paramLabel = "DEVICE",
            description = "Device to check: cpu, cuda, cuda:N, or auto (default: the GPU when one is usable).")
    String device = "auto";

    private PrintWriter out;
    private boolean failed;

    @Override
    public Integer call() {
        out = spec.commandLine().getOut();
        line(true, "java", System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + "), "
                + System.getProperty("java.home"));
        boolean vector = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        info("vector api", vector ? "on (jdk.incubator.vector): the fast CPU matrix multiply is used"
                : "off: the CPU backend uses its scalar matrix multiply (start Java with --add-modules "
                + "jdk.incubator.vector, as java -jar does by itself)");
        info("cpu", cpuModel() + ", " + Runtime.getRuntime().availableProcessors() + " cores available");
        boolean explicit = !device.trim().equalsIgnoreCase("auto");
        Device target = explicit ? DeviceOption.parse(spec, device)
                : Cuda.isAvailable() && !Cuda.isEmulated() ? Device.cuda(0) : Device.CPU; // as auto, without its log line
        String reason = Cuda.unavailableReason();
        if (reason != null) {
            if (target.isCuda()) { // asked for: a failure; else, as for the CPU, the reason is information
                line(false, "cuda", "CUDA unavailable: " + reason);
            } else {
                info("cuda", "CUDA unavailable: " + reason + " (the CPU backend is used)");
            }
        } else {
            line(true, "cuda", Cuda.description() + (Cuda.isEmulated() ? " [the CUDA emulator, a test fixture: "
                    + "timings below mean nothing]" : ""));
        }
        if (target.isCuda() && reason == null) {
            Backend backend = Backends.of(target);
            for (ParityResult r : Conformance.run(backend)) {
                line(r.passed(), "parity " + r.check(), r.passed() ? "matches the cpu at n = 1, 7, 1023, 1025"
                        : r.detail());
            }
            benchmark(backend, Cuda.isEmulated());
        }
        out.println(failed ? "doctor: some checks failed" : "doctor: all checks passed");
        out.flush();
        return failed ? 1 : 0;
    }

    private void line(boolean pass, String what, String detail) {
        failed |= !pass;
        out.println((pass ? "PASS " : "FAIL ") + what + ": " + detail);
        out.flush();
    }

    private void info(String what, String detail) {
        out.println("INFO " + what + ": " + detail);
    }

    /** The CPU's model name from /proc/cpuinfo (Linux), else the architecture. */
    static String cpuModel() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1)) {
                if (l.startsWith("model name")) {
                    return l.substring(l.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or unreadable
        }
        return System.getProperty("os.arch");
    }

    /** A float32 GEMM and an elementwise pass on the device, best of three after a warm-up, against the CPU. */
    private void benchmark(Backend gpu, boolean emulated) {
        int n = emulated ? 128 : 2048;
        long elements = emulated ? 1L << 18 : 1L << 26;
        double gemmDevice = gemmGflops(gpu, n, DType.FLOAT32);
        double gemmCpu = gemmGflops(Backends.of(Device.CPU), 1024, DType.FLOAT32);
        info("benchmark", String.format(Locale.ROOT, "float32 matmul %d: %.1f GFLOP/s on %s (cpu at 1024: %.1f GFLOP/s)",
                n, gemmDevice, gpu.device(), gemmCpu));
        info("benchmark", String.format(Locale.ROOT, "bfloat16 matmul %d (float32 accumulation and output, "
                + "autocast's): %.1f GFLOP/s on %s", n, gemmGflops(gpu, n, DType.BFLOAT16), gpu.device()));
        double seconds = best(gpu, () -> {
            Buffer x = gpu.allocate(DType.FLOAT32, elements);
            gpu.fill(x, 1);
            return x;
        }, x -> gpu.unary(UnaryOp.RELU, x, x, 0, 0));
        info("benchmark", String.format(Locale.ROOT, "float32 relu over %,d elements: %.1f GB/s on %s", elements,
                8.0 * elements / seconds / 1e9, gpu.device()));
    }

    /** C = A B for n x n matrices, A and B of {@code inputs} (bfloat16: the mixed GEMM into float32 C). */
    private static double gemmGflops(Backend b, int n, DType inputs) {
        Buffer[] abc = new Buffer[3];
        double seconds = best(b, () -> {
            for (int i = 0; i < 3; i++) {
                abc[i] = b.allocate(DType.FLOAT32, (long) n * n);
                b.random(abc[i], Distribution.NORMAL, 0, 1, i, 0);
                if (i < 2 && inputs != DType.FLOAT32) {
                    Buffer half = b.allocate(inputs, (long) n * n);
                    b.cast(abc[i], half);
                    abc[i].release();
                    abc[i] = half;
                }
            }
            return abc[2];
        }, c -> b.gemm(false, false, 1, n, n, n, 1, abc[0], 0, abc[1], 0, 0, c, 0, false));
        abc[0].release();
        abc[1].release();
        return 2.0 * n * n * n / seconds / 1e9;
    }

    /** Seconds of the fastest of three runs of {@code work} on a buffer from {@code setup}, after one warm-up. */
    private static double best(Backend b, java.util.function.Supplier<Buffer> setup,
                               java.util.function.Consumer<Buffer> work) {
        Buffer x = setup.get();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            b.synchronize();
            long t0 = System.nanoTime();
            work.accept(x);
            b.synchronize();
            if (i > 0) {
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
        }
        x.release();
        return best;
    }
}
