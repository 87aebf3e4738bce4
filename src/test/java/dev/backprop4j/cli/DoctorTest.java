package dev.backprop4j.cli;

import dev.backprop4j.backend.cuda.Cuda;
import dev.backprop4j.backend.cuda.CudaEmulator;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** {@code doctor}: one line per finding, and its exit code, with and without a (emulated) GPU. */
class DoctorTest {

    @Test
    void withoutCudaItSaysWhyOnOneLineAndPasses() {
        assumeFalse(Cuda.isAvailable(), "CUDA is usable here");
        CliRun r = CliRun.of("doctor");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().startsWith("PASS java: " + System.getProperty("java.version")), r.out());
        assertTrue(r.out().contains("\nINFO cuda: CUDA unavailable: " + Cuda.unavailableReason() + " (the CPU backend is used)\n"),
                r.out());
        assertTrue(r.out().endsWith("doctor: all checks passed\n"), r.out());
    }

    @Test
    void askingForCudaWithoutItFails() {
        assumeFalse(Cuda.isAvailable(), "CUDA is usable here");
        CliRun r = CliRun.of("doctor", "--device", "cuda");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("\nFAIL cuda: CUDA unavailable: " + Cuda.unavailableReason() + "\n"), r.out());
        assertTrue(r.out().endsWith("doctor: some checks failed\n"), r.out());
    }

    /** On the CUDA emulator every primitive is checked against the CPU, one PASS line each, and a benchmark runs. */
    @Test
    void onTheEmulatorEveryPrimitivePasses() throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of(), Main.class, "doctor", "--device", "cuda");
        String out = run.output();
        assertEquals(0, run.exitCode(), out);
        assertTrue(out.contains("PASS cuda: backprop4j CUDA emulator (compute 9.0, 4.0 GiB)"), out);
        for (String p : new String[] {"unary", "unaryBackward", "binary", "gemm", "reduce", "softmax", "crossEntropy",
                "adamStep", "sgdStep", "random", "scatterRows"}) {
            assertTrue(out.contains("PASS parity " + p + " float32: ") && out.contains("PASS parity " + p + " float64: "),
                    p + ":\n" + out);
        }
        assertFalse(out.contains("FAIL"), out);
        assertTrue(out.contains("PASS parity gemm bfloat16: ") && out.contains("PASS parity cast bfloat16: "),
                "the mixed-precision GEMM and the bfloat16 casts against the CPU:\n" + out);
        assertTrue(out.contains("INFO benchmark: float32 matmul"), out);
        assertTrue(out.contains("INFO benchmark: bfloat16 matmul"), out);
        assertTrue(out.endsWith("doctor: all checks passed\n"), out);
    }
}
