package dev.backprop4j.spark;

import dev.backprop4j.backend.cuda.CudaEmulator;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The estimator's tasks on GPUs, on the CUDA emulator with two devices (a child JVM each run, as a JVM loads CUDA
 * once): without Spark's GPU scheduling, in local mode, task 0 takes cuda:0 and task 1 cuda:1, and the fit's loss
 * per epoch is the CPU fit's within float rounding. Runs once, in the default tests (its children run on the
 * emulator, as CudaGraphTrainTest's do); skipped where the emulator was not built.
 */
class MlpClassifierGpuTest {

    /** Spark's --add-opens flags, as this JVM got them. */
    private static List<String> sparkFlags() {
        return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect")).toList();
    }

    private static String fit(String device) throws Exception {
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of("CUDA_EMU_DEVICES", "2"), sparkFlags(),
                EmulatedGpusFit.class, device);
        assertEquals(0, run.exitCode(), run.output());
        return run.output();
    }

    private static double[] losses(String out) {
        Matcher m = Pattern.compile("epoch +\\d+/3 +train loss ([0-9.]+)").matcher(out);
        double[] l = new double[3];
        int i = 0;
        while (m.find()) {
            l[i++] = Double.parseDouble(m.group(1));
        }
        assertEquals(3, i, out);
        return l;
    }

    @Test
    void eachTaskTakesItsOwnEmulatedGpuAndTrainsAsTheCpuDoes() throws Exception {
        String cuda = fit("cuda");
        assertTrue(cuda.contains("2 workers: rank 0 100 rows on cuda:0; rank 1 100 rows on cuda:1;"), cuda);
        String cpu = fit("cpu");
        assertTrue(cpu.contains("rank 0 100 rows on cpu; rank 1 100 rows on cpu;"), cpu);
        double[] a = losses(cuda);
        double[] b = losses(cpu);
        for (int e = 0; e < 3; e++) {
            assertEquals(b[e], a[e], 2e-3, "epoch " + (e + 1) + "'s loss");
        }
    }
}
