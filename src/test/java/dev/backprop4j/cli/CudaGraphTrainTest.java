package dev.backprop4j.cli;

import dev.backprop4j.backend.cuda.CudaEmulator;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code train --cuda-graph}: end to end on the CUDA emulator, and a usage error where there is no CUDA device. */
class CudaGraphTrainTest {

    /** The same run eagerly and with graphs prints the same losses and accuracies, to the last digit. */
    @Test
    void trainingWithCudaGraphsLearnsWhatEagerTrainingLearns() throws Exception {
        String[] args = {"train", "--device", "cuda", "--epochs", "2", "--limit", "1000", "--layers", "64", "--lr",
            "0.003"};
        String eager = CudaEmulator.runJava(Map.of(), Main.class, args).output();
        String[] withGraph = java.util.Arrays.copyOf(args, args.length + 1);
        withGraph[args.length] = "--cuda-graph";
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of(), Main.class, withGraph);
        String graphed = run.output();
        assertEquals(0, run.exitCode(), graphed);
        assertEquals(2, results(eager).split("\n").length, eager);
        assertEquals(results(eager), results(graphed), eager + "\n---\n" + graphed);
        int at = graphed.indexOf("done: test accuracy ");
        double accuracy = Double.parseDouble(graphed.substring(at + 20, graphed.indexOf('%', at)));
        assertTrue(accuracy > 75, "1000 digits, two epochs: " + graphed);
    }

    /**
     * {@code --precision bf16 --device cuda} trains under the emulator (GemmEx through the shim, the casts on the
     * device), graphed too, and learns what the CPU's bf16 run learns: the same epochs within float noise.
     */
    @Test
    void bfloat16TrainingOnTheDeviceLearnsWhatTheCpusDoes() throws Exception {
        String[] args = {"train", "--device", "cuda", "--precision", "bf16", "--epochs", "2", "--limit", "1000",
            "--layers", "64", "--lr", "0.003", "--cuda-graph"};
        CudaEmulator.Run run = CudaEmulator.runJava(Map.of(), Main.class, args);
        String gpu = run.output();
        assertEquals(0, run.exitCode(), gpu);
        String[] cpuArgs = {"train", "--device", "cpu", "--precision", "bf16", "--epochs", "2", "--limit", "1000",
            "--layers", "64", "--lr", "0.003"};
        CliRun cpu = CliRun.of(cpuArgs);
        assertEquals(0, cpu.code(), cpu.err());
        double g = accuracy(gpu);
        double c = accuracy(cpu.out());
        assertTrue(g > 75 && Math.abs(g - c) <= 1.0, "cuda " + g + "%, cpu " + c + "%:\n" + gpu);
    }

    private static double accuracy(String output) {
        int at = output.indexOf("done: test accuracy ");
        return Double.parseDouble(output.substring(at + 20, output.indexOf('%', at)));
    }

    /** The epoch lines without their timings. */
    private static String results(String output) {
        StringBuilder sb = new StringBuilder();
        for (String line : output.split("\n")) {
            if (line.startsWith("epoch ") && line.contains("train loss")) {
                sb.append(line, 0, line.lastIndexOf("|")).append('\n');
            }
        }
        return sb.toString();
    }

    @Test
    void cudaGraphsOnTheCpuAreAUsageError() {
        CliRun r = CliRun.of("train", "--device", "cpu", "--cuda-graph");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--cuda-graph needs a CUDA device, and --device cpu is cpu"), r.err());
    }
}
