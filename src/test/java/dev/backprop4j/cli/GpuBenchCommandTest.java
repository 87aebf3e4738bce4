package dev.backprop4j.cli;

import dev.backprop4j.backend.cuda.CudaEmulator;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench-gpu}'s dry runs: both halves' code paths on the CPU (PyTorch's only where python3 imports torch, which
 * no test needs), and our half on the CUDA emulator with the graphed steps and the memory columns.
 */
class GpuBenchCommandTest {

    @Test
    void aDryRunOnTheCpuPrintsEveryRowAndSaysWhyPyTorchIsMissing() {
        CliRun r = CliRun.of("bench-gpu", "--device", "cpu", "--quick", "--python", "/nonexistent/python3");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("CPU dry run") && r.out().contains("PyTorch not run (/nonexistent/python3: "), r.out());
        for (String row : new String[] {"| sgemm 256 fp32 |", "| sgemm 512 fp32 |", "| copy 65536 |",
            "| activation gelu backward 65536 |", "| step wide eager |", "| step mnist eager |",
            "| gemm 256x256x64 fp32 |", "| gemm 256x256x256 bf16 |", "| step large fp32 |", "| step large bf16 |"}) {
            assertTrue(r.out().contains(row), row + " missing:\n" + r.out());
        }
    }

    @Test
    void onTheEmulatorTheGraphedStepsAndTheirMemoryAreMeasured() throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of(), Main.class, "bench-gpu", "--quick", "--no-torch");
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("backprop4j CUDA emulator") && out.contains("PyTorch not run (--no-torch)"), out);
        for (String row : new String[] {"| sgemm 512 tf32 |", "| step wide graphed |", "| step mnist graphed |",
            "| gemm 256x256x64 tf32 |", "| gemm 256x256x256 bf16 |", "| step large tf32 |"}) {
            assertTrue(out.contains(row), row + " missing:\n" + out);
        }
        assertTrue(out.matches("(?s).*\\| step mnist eager \\|[^\\n]*peak memory per step [0-9.]+ MiB.*"), out);
        assertTrue(out.matches("(?s).*\\| step large bf16 \\|[^\\n]*peak memory per step [0-9.]+ MiB.*"), out);
    }
}
